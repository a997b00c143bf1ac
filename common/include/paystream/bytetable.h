/*
 * Compile-time 256-entry byte tables. PS_BYTE_TABLE(F) is an array
 * initializer whose entry c is F(c) for every byte value c, so that a
 * character class or value costs one load instead of a chain of comparisons
 * (base64 alphabets, the bytes that end a plain JSON string run). F must be a
 * constant expression of its int argument.
 *
 *   #define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
 *   static const uint8_t digit[256] = PS_BYTE_TABLE(IS_DIGIT);
 */
#ifndef PAYSTREAM_BYTETABLE_H
#define PAYSTREAM_BYTETABLE_H

#define PS_BYTE_ROW4(F, c) F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define PS_BYTE_ROW16(F, c)                                                                      \
    PS_BYTE_ROW4(F, c), PS_BYTE_ROW4(F, (c) + 4), PS_BYTE_ROW4(F, (c) + 8),                      \
        PS_BYTE_ROW4(F, (c) + 12)
#define PS_BYTE_ROW64(F, c)                                                                      \
    PS_BYTE_ROW16(F, c), PS_BYTE_ROW16(F, (c) + 16), PS_BYTE_ROW16(F, (c) + 32),                 \
        PS_BYTE_ROW16(F, (c) + 48)
#define PS_BYTE_TABLE(F)                                                                         \
    {                                                                                            \
        PS_BYTE_ROW64(F, 0), PS_BYTE_ROW64(F, 64), PS_BYTE_ROW64(F, 128), PS_BYTE_ROW64(F, 192)  \
    }

#endif
