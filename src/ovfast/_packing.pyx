# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Bit-packing kernels for OpenVINO's sub-byte element types, in the layout the runtime reads.

Layouts (established from the installed runtime by tests/test_packing.py, not from documentation):
  u1            8 per byte, element 0 in the most significant bit
  u2            4 per byte, element 0 in the least significant bits
  u4 i4 nf4 f4e2m1   2 per byte, element 0 in the low nibble (i4: two's complement)
  u3            8 per 3 bytes: the low 2 bits of element k in byte k//4 at bits 7-6 (k%4 = 0) down to 1-0,
                the high bit of element k in byte 2 at bit 7-k
  u6            4 per 3 bytes: the low 4 bits of element k in byte k//2 (k even: high nibble), the high
                2 bits of element k in byte 2 at bits 7-6 (k = 0) down to 1-0
Padding elements (past the end of an odd length) are zero bits.

Packing checks every value against the type's range as it goes and reports the first bad index; nothing
here touches Python objects, so the whole pass runs without the GIL.
"""
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

ctypedef fused src_t:
    uint8_t
    int8_t
    uint16_t
    int16_t
    uint32_t
    int32_t
    uint64_t
    int64_t

cdef extern from *:
    """
    /* u1 packing of byte values with SIMD: movemask gathers one bit per byte, element 0 in bit 0, while
       u1 keeps element 0 in the MSB. Each path stops at the first block holding a value other than 0/1,
       and the scalar loop takes over from there (and finds the bad index). */
    #include <stdint.h>
    #include <stddef.h>
    #include <string.h>
    static uint8_t ovf_bit_reverse[256];
    static void ovf_init_bit_reverse(void) {
        for (int i = 0; i < 256; i++) {
            uint8_t r = 0;
            for (int b = 0; b < 8; b++) r |= (uint8_t)(((i >> b) & 1) << (7 - b));
            ovf_bit_reverse[i] = r;
        }
    }
    #if defined(__x86_64__) && defined(__GNUC__)
    #include <immintrin.h>
    /* AVX2, chosen at run time: reverse each 8-byte group (pshufb) so that movemask's bit order is u1's. */
    __attribute__((target("avx2")))
    static Py_ssize_t ovf_pack_u1_avx2(const uint8_t* src, Py_ssize_t n, uint8_t* dst) {
        const __m256i high7 = _mm256_set1_epi8((char)0xFE);
        const __m256i zero = _mm256_setzero_si256();
        const __m256i rev = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                             7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
        Py_ssize_t i = 0;
        for (; i + 128 <= n; i += 128) {  /* two 64-value halves per validity branch */
            __m256i a = _mm256_loadu_si256((const __m256i*)(src + i));
            __m256i b = _mm256_loadu_si256((const __m256i*)(src + i + 32));
            __m256i c = _mm256_loadu_si256((const __m256i*)(src + i + 64));
            __m256i d = _mm256_loadu_si256((const __m256i*)(src + i + 96));
            __m256i any = _mm256_and_si256(_mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d)), high7);
            if (!_mm256_testz_si256(any, any)) break;
            uint64_t w0 = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(a, rev), 7))
                | ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(b, rev), 7)) << 32);
            uint64_t w1 = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(c, rev), 7))
                | ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(d, rev), 7)) << 32);
            memcpy(dst + i / 8, &w0, 8);
            memcpy(dst + i / 8 + 8, &w1, 8);
        }
        for (; i + 64 <= n; i += 64) {
            __m256i a = _mm256_loadu_si256((const __m256i*)(src + i));
            __m256i b = _mm256_loadu_si256((const __m256i*)(src + i + 32));
            __m256i any = _mm256_and_si256(_mm256_or_si256(a, b), high7);
            if (!_mm256_testz_si256(any, any)) break;
            uint32_t ma = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(a, rev), 7));
            uint32_t mb = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_shuffle_epi8(b, rev), 7));
            uint64_t word = (uint64_t)ma | ((uint64_t)mb << 32);
            memcpy(dst + i / 8, &word, 8);
        }
        (void)zero;
        return i;
    }
    static int ovf_has_avx2 = -1;
    #endif
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #include <string.h>
    static Py_ssize_t ovf_pack_u1_sse2(const uint8_t* src, Py_ssize_t n, uint8_t* dst) {
        const __m128i high7 = _mm_set1_epi8((char)0xFE);
        const __m128i zero = _mm_setzero_si128();
        Py_ssize_t i = 0;
        for (; i + 64 <= n; i += 64) {  /* 64 values -> 8 bytes; one validity branch per block */
            __m128i a = _mm_loadu_si128((const __m128i*)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i*)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i*)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i*)(src + i + 48));
            __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(any, high7), zero)) != 0xFFFF) break;
            uint32_t ma = (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(a, 7));
            uint32_t mb = (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(b, 7));
            uint32_t mc = (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(c, 7));
            uint32_t md = (uint32_t)_mm_movemask_epi8(_mm_slli_epi16(d, 7));
            uint8_t* o = dst + i / 8;
            o[0] = ovf_bit_reverse[ma & 0xFF]; o[1] = ovf_bit_reverse[ma >> 8];
            o[2] = ovf_bit_reverse[mb & 0xFF]; o[3] = ovf_bit_reverse[mb >> 8];
            o[4] = ovf_bit_reverse[mc & 0xFF]; o[5] = ovf_bit_reverse[mc >> 8];
            o[6] = ovf_bit_reverse[md & 0xFF]; o[7] = ovf_bit_reverse[md >> 8];
        }
        return i;
    }
    #endif
    static Py_ssize_t ovf_pack_u1_blocks(const uint8_t* src, Py_ssize_t n, uint8_t* dst) {
    #if defined(__x86_64__) && defined(__GNUC__)
        if (ovf_has_avx2 < 0) ovf_has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
        if (ovf_has_avx2) return ovf_pack_u1_avx2(src, n, dst);
    #endif
    #if defined(__SSE2__)
        return ovf_pack_u1_sse2(src, n, dst);
    #else
        return 0;
    #endif
    }
    """
    void ovf_init_bit_reverse() nogil
    Py_ssize_t ovf_pack_u1_blocks(const uint8_t* src, Py_ssize_t n, uint8_t* dst) noexcept nogil

ovf_init_bit_reverse()


cdef enum Layout:
    L_U1 = 0
    L_U2 = 1
    L_NIBBLE = 2
    L_U3 = 3
    L_U6 = 4


cdef inline bint out_of_range(int64_t v, int64_t lo, int64_t hi) noexcept nogil:
    return <uint64_t>(v - lo) > <uint64_t>(hi - lo)


cdef inline bint outside(src_t v, int64_t lo, int64_t hi) noexcept nogil:
    """v outside [lo, hi] (lo <= 0 for every packed type), compared in the source's own signedness: a
    uint64 value above 2**63 is not a negative number."""
    if src_t is uint64_t:
        return v > <uint64_t>hi
    else:
        return out_of_range(<int64_t>v, lo, hi)


# Byte sources, 8 at a time in one 64-bit word (little-endian hosts): check all eight values with one
# mask, then gather the bits with shifts (nibbles) or one multiply (u1). A word holding a bad value goes
# through the scalar loop, which finds its index.
cdef Py_ssize_t pack_words(const uint8_t* src, Py_ssize_t n, uint8_t* dst, int layout, bint signed4,
                           uint8_t hi) noexcept nogil:
    """Packs the whole 8-value words of src; returns how many values it packed, stopping before a word
    with a bad value. signed4: the bytes are int8 values checked against -8..7; otherwise they are checked
    against 0..hi (hi = 2**k - 1), which also refuses negative int8 values (their top bit is set)."""
    cdef Py_ssize_t i, words = n // 8
    cdef uint64_t w, x, bad
    cdef uint64_t over = 0x0101010101010101ULL * <uint64_t>(0xFF ^ hi)  # bits no valid byte has
    cdef uint32_t four
    for i in range(words):
        memcpy(&w, src + 8 * i, 8)
        if layout == L_U1:
            if w & over:
                return 8 * i
            dst[i] = <uint8_t>((w * 0x8040201008040201ULL) >> 56)
            continue
        if signed4:
            # per byte: (b & 0x7F) + 8 cannot carry; -8..7 leaves bits 4-6 clear and bit 7 equal to b's
            x = (w & 0x7F7F7F7F7F7F7F7FULL) + 0x0808080808080808ULL
            bad = (x & 0x7070707070707070ULL) | ((x ^ w) & 0x8080808080808080ULL)
        else:
            bad = w & over
        if bad:
            return 8 * i
        x = w & 0x0F0F0F0F0F0F0F0FULL
        x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL
        x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL
        four = <uint32_t>(x | (x >> 16))
        memcpy(dst + 4 * i, &four, 4)
    return 8 * words


cdef Py_ssize_t pack_kernel(const src_t* src, Py_ssize_t n, uint8_t* dst, int layout, int64_t lo,
                            int64_t hi) noexcept nogil:
    """Packs n values; returns -1, or the index of the first value outside [lo, hi]."""
    cdef Py_ssize_t i, k, full
    cdef int64_t v
    cdef uint8_t b
    cdef uint64_t word
    if layout == L_NIBBLE:
        full = n // 2
        for i in range(full):
            if outside(src[2 * i], lo, hi) or outside(src[2 * i + 1], lo, hi):
                return 2 * i if outside(src[2 * i], lo, hi) else 2 * i + 1
            dst[i] = (<uint8_t>src[2 * i] & 0x0F) | ((<uint8_t>src[2 * i + 1] & 0x0F) << 4)
        if n % 2:
            if outside(src[n - 1], lo, hi):
                return n - 1
            dst[full] = <uint8_t>src[n - 1] & 0x0F
        return -1
    if layout == L_U1:
        full = n // 8
        for i in range(full):
            b = 0
            for k in range(8):
                v = <int64_t>src[8 * i + k]
                if outside(src[8 * i + k], lo, hi):
                    return 8 * i + k
                b |= <uint8_t>(v << (7 - k))
            dst[i] = b
        if n % 8:
            b = 0
            for k in range(n % 8):
                v = <int64_t>src[8 * full + k]
                if outside(src[8 * full + k], lo, hi):
                    return 8 * full + k
                b |= <uint8_t>(v << (7 - k))
            dst[full] = b
        return -1
    if layout == L_U2:
        full = (n + 3) // 4
        for i in range(full):
            b = 0
            for k in range(4):
                if 4 * i + k < n:
                    v = <int64_t>src[4 * i + k]
                    if outside(src[4 * i + k], lo, hi):
                        return 4 * i + k
                    b |= <uint8_t>(v << (2 * k))
            dst[i] = b
        return -1
    if layout == L_U3:
        return pack_split(src, n, dst, 2, 1, lo, hi)
    return pack_split(src, n, dst, 4, 2, lo, hi)  # L_U6


cdef Py_ssize_t pack_split(const src_t* src, Py_ssize_t n, uint8_t* dst, int low_bits, int high_bits, int64_t lo,
                           int64_t hi) noexcept nogil:
    """u3 and u6: 3-byte groups of 8 // high_bits values. The low `low_bits` of each value fill bytes 0-1,
    element 0 in the most significant bits; the high `high_bits` fill byte 2, element 0 highest."""
    cdef Py_ssize_t i, k, base, per_group = 8 // high_bits, per_byte = 8 // low_bits
    cdef int64_t v
    cdef uint8_t low_mask = (1 << low_bits) - 1, high_mask = (1 << high_bits) - 1, highbits
    for i in range((n + per_group - 1) // per_group):
        base = per_group * i
        dst[3 * i] = 0
        dst[3 * i + 1] = 0
        highbits = 0
        for k in range(per_group):
            if base + k < n:
                v = <int64_t>src[base + k]
                if outside(src[base + k], lo, hi):
                    return base + k
                dst[3 * i + k // per_byte] |= <uint8_t>((v & low_mask) << (8 - low_bits * (k % per_byte + 1)))
                highbits |= <uint8_t>(((v >> low_bits) & high_mask) << (8 - high_bits * (k + 1)))
        dst[3 * i + 2] = highbits
    return -1


cdef void unpack_kernel(const uint8_t* src, Py_ssize_t n, uint8_t* dst, int layout, bint signed4) noexcept nogil:
    cdef Py_ssize_t i, k, full
    cdef uint8_t b
    if layout == L_NIBBLE:
        full = n // 2
        if signed4:
            for i in range(full):
                b = src[i]
                dst[2 * i] = <uint8_t>(<int8_t>(b << 4) >> 4)
                dst[2 * i + 1] = <uint8_t>(<int8_t>b >> 4)
            if n % 2:
                dst[n - 1] = <uint8_t>(<int8_t>(src[full] << 4) >> 4)
        else:
            for i in range(full):
                b = src[i]
                dst[2 * i] = b & 0x0F
                dst[2 * i + 1] = b >> 4
            if n % 2:
                dst[n - 1] = src[full] & 0x0F
        return
    if layout == L_U1:
        full = n // 8
        for i in range(full):
            b = src[i]
            for k in range(8):
                dst[8 * i + k] = (b >> (7 - k)) & 1
        for k in range(n % 8):
            dst[8 * full + k] = (src[full] >> (7 - k)) & 1
        return
    if layout == L_U2:
        for i in range(n):
            dst[i] = (src[i // 4] >> (2 * (i % 4))) & 3
        return
    if layout == L_U3:
        unpack_split(src, n, dst, 2, 1)
    else:  # L_U6
        unpack_split(src, n, dst, 4, 2)


cdef void unpack_split(const uint8_t* src, Py_ssize_t n, uint8_t* dst, int low_bits, int high_bits) noexcept nogil:
    """The inverse of pack_split."""
    cdef Py_ssize_t i, k, g, per_group = 8 // high_bits, per_byte = 8 // low_bits
    cdef uint8_t low_mask = (1 << low_bits) - 1, high_mask = (1 << high_bits) - 1
    for i in range(n):
        g = 3 * (i // per_group)
        k = i % per_group
        dst[i] = (((src[g + k // per_byte] >> (8 - low_bits * (k % per_byte + 1))) & low_mask)
                  | (((src[g + 2] >> (8 - high_bits * (k + 1))) & high_mask) << low_bits))


def pack(src_t[::1] src, uint8_t[::1] dst, int layout, int64_t lo, int64_t hi, bint little_endian):
    """Packs src into dst (sized by the caller); returns -1 or the index of the first out-of-range value."""
    cdef Py_ssize_t n = src.shape[0], bad, done = 0
    cdef Py_ssize_t per_word_bytes = 1 if layout == L_U1 else 4
    if n == 0:
        return -1
    with nogil:
        if (src_t is uint8_t or src_t is int8_t) and layout == L_U1:
            done = ovf_pack_u1_blocks(<const uint8_t*>&src[0], n, &dst[0])
        if (src_t is uint8_t or src_t is int8_t) and little_endian and (layout == L_U1 or layout == L_NIBBLE):
            # A uint8 source for i4 holds 0..7 only: 248-255 are not -8..-1 there.
            done += pack_words(<const uint8_t*>&src[done], n - done, &dst[(done // 8) * per_word_bytes], layout,
                               src_t is int8_t and lo < 0, <uint8_t>hi)
        bad = pack_kernel(&src[done], n - done, &dst[(done // 8) * per_word_bytes], layout, lo, hi)
    return bad + done if bad >= 0 else -1


def unpack(const uint8_t[::1] src, uint8_t[::1] dst, int layout, bint signed4):
    """Unpacks len(dst) values from src (sized by the caller)."""
    cdef Py_ssize_t n = dst.shape[0]
    if n == 0:
        return
    with nogil:
        unpack_kernel(&src[0], n, &dst[0], layout, signed4)
