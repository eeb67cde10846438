/* Frame codec: byte-at-a-time COBS decoder with CRC check, and the matching encoder. No heap. */
#include "protocol.h"
#include "crc16.h"

void frame_decoder_init(frame_decoder_t *d)
{
    d->len = 0;
    d->overflow = false;
}

/* Decode COBS in place; returns the decoded length or -1 when the code bytes do not fit. */
/*@ requires n <= FRAME_MAX_ENCODED;
    requires \valid(buf + (0 .. n - 1));
    assigns buf[0 .. n - 1] \from buf[0 .. n - 1];
    ensures -1 <= \result <= n;
*/
static int16_t cobs_decode_in_place(uint8_t *buf, uint8_t n)
{
    uint8_t in = 0, out = 0;
    /* The output never overtakes the input: each code byte read makes room for the zero it stands for. */
    /*@ loop invariant 0 <= out <= in <= n;
        loop assigns in, out, buf[0 .. n - 1];
        loop variant n - in;
    */
    while (in < n) {
        uint8_t code = buf[in++];
        if (code == 0) {
            return -1;
        }
        /*@ loop invariant 1 <= j <= code;
            loop invariant 0 <= out < in <= n && in == \at(in, LoopEntry) + (j - 1);
            loop assigns j, in, out, buf[0 .. n - 1];
            loop variant code - j;
        */
        for (uint8_t j = 1; j < code; j++) {
            if (in >= n) {
                return -1;
            }
            buf[out++] = buf[in++];
        }
        if (code != 0xFF && in < n) {
            buf[out++] = 0;
        }
    }
    return out;
}

frame_status_t frame_decoder_feed(frame_decoder_t *d, uint8_t byte, frame_t *out)
{
    if (byte != 0) {
        if (d->len < sizeof d->buf) {
            d->buf[d->len++] = byte;
        } else {
            d->overflow = true;   /* keep swallowing until the delimiter, then reject */
        }
        return FRAME_NONE;
    }
    /* Delimiter: an empty frame is just line idle/resync, not an error. */
    uint8_t n = d->len;
    bool overflow = d->overflow;
    frame_decoder_init(d);
    if (n == 0 && !overflow) {
        return FRAME_NONE;
    }
    if (overflow) {
        return FRAME_ERR_FORMAT;
    }
    int16_t m = cobs_decode_in_place(d->buf, n);
    if (m < 4 || m > (int16_t)FRAME_MAX_RAW) {
        return FRAME_ERR_FORMAT;
    }
    uint16_t want = get_u16(&d->buf[m - 2]);
    if (crc16(d->buf, (uint16_t)(m - 2)) != want) {
        return FRAME_ERR_CRC;
    }
    out->type = d->buf[0];
    out->seq = d->buf[1];
    out->len = (uint8_t)(m - 4);
    for (uint8_t i = 0; i < out->len; i++) {
        out->payload[i] = d->buf[2 + i];
    }
    return FRAME_OK;
}

/*@ requires \valid_read(f);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(f, out + (0 .. cap - 1));
    assigns out[0 .. cap - 1] \from *f;
    ensures \result <= cap;
    ensures f->len <= FRAME_MAX_PAYLOAD && cap >= f->len + 6 ==> \result == f->len + 6;
    ensures f->len > FRAME_MAX_PAYLOAD || cap < f->len + 6 ==> \result == 0;
*/
uint8_t frame_encode(const frame_t *f, uint8_t *out, uint8_t cap)
{
    if (f->len > FRAME_MAX_PAYLOAD || cap < (uint8_t)(f->len + 4u + 2u)) {
        return 0;
    }
    uint8_t raw[FRAME_MAX_RAW];
    uint8_t n = 0;
    raw[n++] = f->type;
    raw[n++] = f->seq;
    /*@ loop invariant 0 <= i <= f->len && n == 2 + i;
        loop assigns i, n, raw[2 .. FRAME_MAX_RAW - 1];
        loop variant f->len - i;
    */
    for (uint8_t i = 0; i < f->len; i++) {
        raw[n++] = f->payload[i];
    }
    uint16_t crc = crc16(raw, n);
    raw[n++] = (uint8_t)crc;
    raw[n++] = (uint8_t)(crc >> 8);

    /* COBS: each code byte tells how far away the next zero is; frames are < 254 bytes. */
    uint8_t code_at = 0, o = 1, code = 1;
    /* One output byte per input byte (a zero becomes the next code byte), so o stays i + 1. */
    /*@ loop invariant 0 <= i <= n && o == i + 1;
        loop invariant 0 <= code_at <= i && code == i - code_at + 1;
        loop assigns i, o, code, code_at, out[0 .. cap - 1];
        loop variant n - i;
    */
    for (uint8_t i = 0; i < n; i++) {
        if (raw[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = raw[i];
            code++;
        }
    }
    out[code_at] = code;
    out[o++] = 0;
    return o;
}
