# Which elements dropout keeps: a counter-based random generator.
#
# Element ``i`` of a batch (its row-major index) is kept when a hash of
# ``(seed, i)`` falls above a threshold set by the rate: the SplitMix64
# finaliser, not a stream of random numbers, so the mask is the same whichever
# thread draws which element, in any order, and any part of it can be drawn
# again from the seed alone. Shared by the dropout layer's kernel
# (``_dropout.pyx``) and the whole-step dense stack (``_stack.pyx``), which
# must keep exactly the elements the layer keeps. The augmentation kernel
# (``_augment.pyx``) draws its random transforms from the same hash.

from libc.stdint cimport uint64_t


cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    x = x + <uint64_t>0x9E3779B97F4A7C15
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline uint64_t counter_hash(uint64_t seed, uint64_t i) noexcept nogil:
    """64 random bits for counter ``i`` of the stream ``seed``."""
    return splitmix64(seed ^ i * <uint64_t>0xD1B54A32D192ED03)


cdef inline uint64_t dropout_threshold(double rate) noexcept nogil:
    """Element ``i`` is kept when the top 53 bits of its hash are >= this."""
    return <uint64_t>(rate * 9007199254740992.0)


cdef inline bint dropout_keeps(uint64_t seed, uint64_t i, uint64_t threshold) noexcept nogil:
    """Whether dropout keeps element ``i`` (row-major index in the batch)."""
    return (counter_hash(seed, i) >> 11) >= threshold
