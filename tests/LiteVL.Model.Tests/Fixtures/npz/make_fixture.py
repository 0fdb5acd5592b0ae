#!/usr/bin/python3
"""Writes the .npz fixtures read by tests/LiteVL.Model.Tests/IO/NpzFixtureTests.cs.

Run with Debian's NumPy (apt-get install python3-numpy):  /usr/bin/python3 make_fixture.py
The expected values are repeated verbatim in NpzFixtureTests.cs; keep the two in step.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def arrays():
    return {
        "f4": (np.arange(6, dtype="<f4").reshape(2, 3) * 0.5 - 1.0).astype("<f4"),
        "f2": np.array([1.5, -2.0, 65504.0, 2.0**-24, 2.0**-14], dtype="<f2"),
        "f8": np.array([np.pi, -1e300, 0.0], dtype="<f8"),
        "i8": np.array([-(2**62), 0, 2**62 + 1], dtype="<i8"),
        "i4": np.array([[1, -2], [2147483647, -2147483648]], dtype="<i4"),
        "i2": np.array([-32768, 32767, 5], dtype="<i2"),
        "i1": np.array([-128, 127, 0], dtype="|i1"),
        "u1": np.array([0, 255, 7], dtype="|u1"),
        "b1": np.array([True, False, True], dtype="|b1"),
        "be_f4": (np.arange(4, dtype=">f4") + 0.25).astype(">f4"),
        "be_i4": np.array([1, -2, 305419896], dtype=">i4"),
        # Fortran order: element [i, j, k] is i*12 + j*4 + k; on disk it is column-major.
        "fortran": np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)),
        "scalar": np.array(3.25, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
    }


def main():
    a = arrays()
    assert a["fortran"].flags.f_contiguous and not a["fortran"].flags.c_contiguous
    np.savez(os.path.join(HERE, "fixture.npz"), **a)
    np.savez_compressed(os.path.join(HERE, "fixture_compressed.npz"), **a)


if __name__ == "__main__":
    main()
