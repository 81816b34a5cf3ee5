"""The speed wing: what makes cnnlib fast, kept apart from the code the notebooks teach.

    threads    how many cores cnnlib uses, BLAS on one thread (applied on import)
    parts      what a split batch's parts share: bounds, replicas, part_gradients
    parallel   a batch split across threads (training and inference)
    workers    a training batch split across forked worker processes (Linux)
    shared     the memory and meetings (BatchNorm's sums) the worker processes share
    steps      the seam: split_batches, the step function cnnlib.train.fit runs
    fftconv    FFTConv2D, a convolution through the Fourier transform (lenet99)

Every speed-up computes the same numbers as the teaching code up to float rounding, and
tests check each against it. The teaching engine reaches this wing only from train.py
(the seam, and forward_split in evaluate), model.py (forward_split in predict_proba) and
architectures.py (FFTConv2D in lenet99); tests/test_architecture_rules.py checks it.

No notebook introduces this package: the README section "Cores and threads" explains it.
This file imports nothing, so importing one module of the wing loads only what it needs.
"""
