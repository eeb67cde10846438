/* ATmega328P hardware layer: Timer1 steps, Timer2 1 kHz tick, ADC, USART0, EEPROM, watchdog, sleep. */
#include "hal.h"
#include "config.h"
#include "stepper.h"
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

#define RX_MASK (UART_RX_BUF - 1u)
#define TX_MASK (UART_TX_BUF - 1u)
#define EE_MAGIC_ADDR ((uint8_t *)0)
#define EE_ZERO_ADDR ((uint16_t *)2)
#define EE_MAGIC 0x5A

static volatile uint32_t millis;
static volatile uint8_t rx_buf[UART_RX_BUF];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t tx_buf[UART_TX_BUF];
static volatile uint8_t tx_head, tx_tail;
static bool adc_started;
static bool watchdog_reset;

/* Runs before main's stack frame: a watchdog reset leaves the watchdog armed, so disarm it first. */
static uint8_t saved_mcusr __attribute__((section(".noinit")));
void early_wdt_off(void) __attribute__((naked, used, section(".init3")));
void early_wdt_off(void)
{
    saved_mcusr = MCUSR;
    MCUSR = 0;
    wdt_disable();
}

ISR(TIMER1_COMPA_vect) { stepper_isr(); }

ISR(TIMER2_COMPA_vect) { millis++; }

ISR(USART_RX_vect)
{
    uint8_t b = UDR0;
    uint8_t next = (uint8_t)((rx_head + 1u) & RX_MASK);
    if (next != rx_tail) {          /* on overflow the byte is lost; the frame CRC will catch it */
        rx_buf[rx_head] = b;
        rx_head = next;
    }
}

ISR(USART_UDRE_vect)
{
    if (tx_tail != tx_head) {
        UDR0 = tx_buf[tx_tail];
        tx_tail = (uint8_t)((tx_tail + 1u) & TX_MASK);
    } else {
        UCSR0B &= (uint8_t)~_BV(UDRIE0);
    }
}

bool hal_reset_by_watchdog(void) { return watchdog_reset; }

void hal_init(void)
{
    watchdog_reset = (saved_mcusr & _BV(WDRF)) != 0;
    PIN_STEP_DDR |= _BV(PIN_STEP_BIT);
    PIN_DIR_DDR |= _BV(PIN_DIR_BIT);
    PIN_EN_PORT |= _BV(PIN_EN_BIT);        /* driver off until a command energises it */
    PIN_EN_DDR |= _BV(PIN_EN_BIT);
    PIN_DIAG_DDR &= (uint8_t)~_BV(PIN_DIAG_BIT);
    PIN_LED_DDR |= _BV(PIN_LED_BIT);

    /* Timer2: CTC, /64, 250 counts -> 1 kHz. */
    TCCR2A = _BV(WGM21);
    TCCR2B = _BV(CS22);
    OCR2A = 249;
    TIMSK2 = _BV(OCIE2A);

    /* Timer1 stays stopped until the first step is queued. */
    TCCR1A = 0;
    TCCR1B = 0;

    /* ADC: AVcc reference, channel of the AS5600, clock F_CPU/128 = 125 kHz (~104 us a conversion). */
    ADMUX = _BV(REFS0) | SENSOR_ADC_CHANNEL;
    ADCSRA = _BV(ADEN) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);

    /* USART0: 250000 8N1, normal speed (16 samples a bit: the most tolerant receiver). */
    UBRR0 = (uint16_t)(F_CPU / (16UL * UART_BAUD) - 1UL);
    UCSR0A = 0;
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);

    set_sleep_mode(SLEEP_MODE_IDLE);
    wdt_enable(WDTO_250MS);
    sei();
}

void hal_step_pulse(void)
{
    PIN_STEP_PORT |= _BV(PIN_STEP_BIT);
    __asm__ __volatile__("nop\n\tnop\n\tnop\n\tnop");  /* TMC2209 wants >= 100 ns high */
    PIN_STEP_PORT &= (uint8_t)~_BV(PIN_STEP_BIT);
}

void hal_set_dir(bool positive)
{
    if (positive) {
        PIN_DIR_PORT |= _BV(PIN_DIR_BIT);
    } else {
        PIN_DIR_PORT &= (uint8_t)~_BV(PIN_DIR_BIT);
    }
}

void hal_driver_enable(bool on)
{
    if (on) {
        PIN_EN_PORT &= (uint8_t)~_BV(PIN_EN_BIT);
    } else {
        PIN_EN_PORT |= _BV(PIN_EN_BIT);
    }
}

bool hal_diag_active(void) { return (PIN_DIAG_PIN & _BV(PIN_DIAG_BIT)) != 0; }

void hal_led(bool on)
{
    if (on) {
        PIN_LED_PORT |= _BV(PIN_LED_BIT);
    } else {
        PIN_LED_PORT &= (uint8_t)~_BV(PIN_LED_BIT);
    }
}

void hal_step_timer_start(uint16_t ticks)
{
    TCCR1B = 0;
    TCNT1 = 0;
    OCR1A = ticks - 1u;                     /* CTC period is OCR1A + 1 counts */
    TIFR1 = _BV(OCF1A);
    TIMSK1 |= _BV(OCIE1A);
    TCCR1B = _BV(WGM12) | _BV(CS11);       /* CTC on OCR1A, /8 -> 2 MHz */
}

void hal_step_timer_set(uint16_t ticks) { OCR1A = ticks - 1u; }

void hal_step_timer_stop(void)
{
    TCCR1B = 0;
    TIMSK1 &= (uint8_t)~_BV(OCIE1A);
}

uint32_t hal_millis(void)
{
    uint8_t s = SREG;
    cli();
    uint32_t m = millis;
    SREG = s;
    return m;
}

bool hal_adc_poll(uint16_t *value)
{
    if (ADCSRA & _BV(ADSC)) {
        return false;
    }
    bool fresh = adc_started;
    if (fresh) {
        *value = ADC;
    }
    ADCSRA |= _BV(ADSC);
    adc_started = true;
    return fresh;
}

int hal_uart_getc(void)
{
    if (rx_tail == rx_head) {
        return -1;
    }
    uint8_t b = rx_buf[rx_tail];
    rx_tail = (uint8_t)((rx_tail + 1u) & RX_MASK);
    return b;
}

uint16_t hal_uart_tx_free(void)
{
    return (uint16_t)(UART_TX_BUF - 1u - ((uint8_t)(tx_head - tx_tail) & TX_MASK));
}

void hal_uart_write(const uint8_t *data, uint16_t len)
{
    while (len--) {
        uint8_t next = (uint8_t)((tx_head + 1u) & TX_MASK);
        if (next == tx_tail) {
            break;
        }
        tx_buf[tx_head] = *data++;
        tx_head = next;
    }
    UCSR0B |= _BV(UDRIE0);
}

bool hal_load_zero(uint16_t *counts)
{
    if (eeprom_read_byte(EE_MAGIC_ADDR) != EE_MAGIC) {
        return false;
    }
    *counts = eeprom_read_word(EE_ZERO_ADDR);
    return true;
}

void hal_store_zero(uint16_t counts)
{
    eeprom_update_word(EE_ZERO_ADDR, counts);
    eeprom_update_byte(EE_MAGIC_ADDR, EE_MAGIC);
}

uint8_t hal_irq_save(void)
{
    uint8_t s = SREG;
    cli();
    return s;
}

void hal_irq_restore(uint8_t state) { SREG = state; }

void hal_watchdog_feed(void) { wdt_reset(); }

void hal_idle(void)
{
    cli();
    if (rx_tail == rx_head) {
        sleep_enable();
        sei();                 /* sei's one-instruction delay makes the sleep race-free */
        sleep_cpu();
        sleep_disable();
    }
    sei();
}
