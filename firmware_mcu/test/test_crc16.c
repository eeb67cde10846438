/* Unit tests of the CRC-16/CCITT-FALSE implementation against the standard check value and a bitwise reference. */
#include "check.h"
#include "crc16.h"
#include <string.h>

static uint16_t crc_bitwise(const uint8_t *d, int n)
{
    uint16_t crc = 0xFFFF;
    for (int i = 0; i < n; i++) {
        crc ^= (uint16_t)(d[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

int main(void)
{
    const char *check = "123456789";
    CHECK(crc16((const uint8_t *)check, 9) == 0x29B1);      /* catalogued check value */
    CHECK(crc16((const uint8_t *)"", 0) == 0xFFFF);
    uint8_t buf[64];
    for (int trial = 0; trial < 2000; trial++) {
        int n = (int)(rnd() % sizeof buf);
        for (int i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
        CHECK(crc16(buf, (uint16_t)n) == crc_bitwise(buf, n));
        if (n > 0) {                                        /* any single-bit flip is detected */
            uint16_t good = crc16(buf, (uint16_t)n);
            int bit = (int)(rnd() % (unsigned)(n * 8));
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CHECK(crc16(buf, (uint16_t)n) != good);
        }
    }
    DONE("crc16");
}
