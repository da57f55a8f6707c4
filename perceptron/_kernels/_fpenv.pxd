# The declarations of ``_fpenv.pyx``: the C functions of ``_fpenv.h`` that
# read and set the calling thread's flush-to-zero mode (see there for why).
# ``_testing.pyx`` cimports ``perc_get_flush`` to read each team thread's mode.

cdef extern from "_fpenv.h":
    int perc_flush_supported() nogil
    int perc_get_flush() nogil
    void perc_set_flush(int on) nogil
