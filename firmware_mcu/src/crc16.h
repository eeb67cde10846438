/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) used to protect every serial frame. */
#ifndef SWIVEL_CRC16_H
#define SWIVEL_CRC16_H
#include <stdint.h>

#define CRC16_INIT 0xFFFFu

uint16_t crc16_update(uint16_t crc, uint8_t byte);
uint16_t crc16(const uint8_t *data, uint16_t len);

#endif
