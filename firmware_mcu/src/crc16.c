/* CRC-16/CCITT-FALSE without a lookup table (saves 512 bytes of flash; a few cycles per byte). */
#include "crc16.h"

/*@ assigns \nothing; */
uint16_t crc16_update(uint16_t crc, uint8_t byte)
{
    /* Byte-wise form of the 0x1021 polynomial: swap, fold the new byte in, then the three
     * shifted xors that the polynomial's set bits (12, 5, 0) produce. */
    crc = (uint16_t)((crc >> 8) | (crc << 8));
    crc ^= byte;
    crc ^= (uint8_t)(crc & 0xFF) >> 4;
    crc ^= (uint16_t)(crc << 12);
    crc ^= (uint16_t)((crc & 0xFF) << 5);
    return crc;
}

/*@ requires \valid_read(data + (0 .. len - 1));
    assigns \nothing;
*/
uint16_t crc16(const uint8_t *data, uint16_t len)
{
    uint16_t crc = CRC16_INIT;
    /*@ loop invariant 0 <= len <= \at(len, Pre);
        loop invariant data == \at(data, Pre) + (\at(len, Pre) - len);
        loop assigns len, data, crc;
        loop variant len;
    */
    while (len--) {
        crc = crc16_update(crc, *data++);
    }
    return crc;
}
