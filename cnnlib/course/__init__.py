"""Course tooling for maintainers, never imported by the engine:

    site     python -m cnnlib.course.site build: the static preview site of every notebook
    launch   the repository's name, Binder and Colab links, and the notebooks' setup cell
             (python -m cnnlib.course.launch rewrites the setup cells)

Not installed with the package (pyproject.toml lists the packages that are): students
and Colab need the engine, the pictures and the homework checks, not the tools that
build the course. Run these from a clone of the repository.
"""
