"""Tests for cnnlib.architectures: bad arguments to the named networks (issue 11)."""

import numpy as np
import pytest

from cnnlib.architectures import lenet, make_net, one_conv_net

from bad_input_support import check_raises


BUILD = [
    pytest.param(lambda: lenet(dtype=np.int32), ValueError, ["floating-point", "int32"],
                 id="int-lenet"),
    pytest.param(lambda: lenet(dtype="banana"), ValueError, ["floating-point"], id="dtype-str"),
    pytest.param(lambda: make_net("lenet", seed=-1), ValueError, ["seed", ">= 0"],
                 id="seed-make_net"),
    pytest.param(lambda: one_conv_net(seed=1.5), ValueError, ["seed", "integer"],
                 id="seed-float"),
    pytest.param(lambda: make_net("resnet"), ValueError, ["unknown architecture", "lenet"],
                 id="arch"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)
