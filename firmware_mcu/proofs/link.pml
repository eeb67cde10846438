/* The serial link as a Promela model (spin): host retransmission (device/motor/link.py) against the MCU's
 * duplicate rule (firmware_mcu/src/commands.c) over a line that loses, duplicates, corrupts and reorders.
 *
 * Properties (assertions, plus spin's invalid-end-state check for deadlock):
 *   - every MOVE the host sees acknowledged was executed exactly once by the MCU;
 *   - no frame of an earlier command (a stale retransmission) is ever executed as new;
 *   - the host never takes a reply meant for an earlier command as the answer to the present one.
 * Host silence (250 ms without a frame) may brake the MCU between commands, or during a MOVE the MCU has not
 * yet run; the MCU then no longer takes that frame as a duplicate (commands.c: host_timeouts changed).
 *
 * Variants (spin -D...):
 *   OLD_RULE      the MCU's rule before commit 919b04b: a duplicate is the same seq and type (no content
 *                 check). Expected to FAIL: a MOVE whose wrapped seq meets the last MOVE's is swallowed.
 *   SAME_CONTENT  the host may send a MOVE byte-identical to the last one. Expected to FAIL: the content
 *                 rule then swallows it too (the GoalFilter never does this; see proofs/README.md).
 *   REORDER_H2M   host-to-MCU frames may overtake each other. Expected to FAIL: the one-entry duplicate
 *                 memory then runs a late retransmission (the UART is FIFO; see proofs/README.md).
 *   RESYNC        the host may send the last MOVE again (its resync after a LinkError or a reconnect), and
 *                 an acknowledged MOVE need only have run once or be the one the MCU is still on (no brake
 *                 since it ran). Expected to hold.
 *   NO_FORGET     with RESYNC: the MCU's rule before it learned to forget on host silence. Expected to FAIL:
 *                 the resent MOVE is swallowed after host silence braked the move short.
 * See firmware_mcu/proofs/README.md for why SEQ_MOD 4 stands for the 8-bit counter. */

#ifndef SEQ_MOD
#define SEQ_MOD 4        /* the real counter wraps at 256 */
#endif
#ifndef RETRIES
#define RETRIES 2        /* link.py: retries (default 4) retransmissions of the same bytes, then LinkError */
#endif
#ifndef LIFE
#define LIFE 1           /* a frame still on the line after LIFE more host transmissions is gone */
#endif
#define CAP 2            /* frames the line holds per direction; more are lost */

mtype = { MOVE, PING, ACK, PONG };
#define NONE 0           /* an empty slot (every variable starts at 0) */

typedef Frame {
    mtype type;
    byte seq;
    bit content;         /* which MOVE (the payload), abstracted to one bit */
    bit cur;             /* ghost: belongs to the host's present command */
    byte age;            /* ghost: host transmissions since it was sent */
};

Frame h2m[CAP];          /* slot 0 is the oldest; type NONE = empty */
Frame m2h[CAP];
byte execs;              /* ghost: executions of the host's present command */
bit ran_content;         /* ghost: the content of the last MOVE the MCU executed */
bit braked;              /* host silence braked the MCU since its last execution; commands.c sees it as */
                         /* host_timeouts differing from the count stored with that execution */
bit seen;                /* ghost: the MCU has received a frame of the host's present command */

/* Append to a line (a full line loses the frame, like the MCU's tx_dropped), and remove slot k closing
 * the gap so that slot order stays arrival order. One copy per line: Promela inlines take no arrays. */
#define LINE_OPS(NAME, line)                                                                              \
inline put_##NAME(t, s, c, g) {                                                                            \
    if                                                                                                    \
    :: line[0].type == NONE -> line[0].type = t; line[0].seq = s; line[0].content = c; line[0].cur = g; line[0].age = 0 \
    :: line[0].type != NONE && line[1].type == NONE ->                                                   \
        line[1].type = t; line[1].seq = s; line[1].content = c; line[1].cur = g; line[1].age = 0          \
    :: else -> skip                                                                                       \
    fi                                                                                                    \
}                                                                                                         \
inline drop_##NAME(k) {                                                                                   \
    j = k;                                                                                                \
    do                                                                                                    \
    :: j < CAP - 1 ->                                                                                     \
        line[j].type = line[j + 1].type; line[j].seq = line[j + 1].seq; line[j].content = line[j + 1].content; \
        line[j].cur = line[j + 1].cur; line[j].age = line[j + 1].age; j++                                 \
    :: else -> break                                                                                      \
    od;                                                                                                   \
    line[CAP - 1].type = NONE; line[CAP - 1].seq = 0; line[CAP - 1].content = 0; line[CAP - 1].cur = 0;   \
    line[CAP - 1].age = 0                                                                                 \
}

LINE_OPS(h2m, h2m)
LINE_OPS(m2h, m2h)

/* One more host transmission: everything on the line ages; what is too old has arrived or is lost. */
inline age_lines() {
    k = 0;
    do
    :: k < CAP ->
        if :: h2m[k].type != NONE -> h2m[k].age++ :: else -> skip fi;
        if :: m2h[k].type != NONE -> m2h[k].age++ :: else -> skip fi;
        k++
    :: else -> break
    od;
    k = CAP;
    do
    :: k > 0 ->
        k--;
        if :: h2m[k].type != NONE && h2m[k].age > LIFE -> drop_h2m(k) :: else -> skip fi;
        if :: m2h[k].type != NONE && m2h[k].age > LIFE -> drop_m2h(k) :: else -> skip fi
    :: else -> break
    od
}

/* The host starts a new command: nothing on the line belongs to it. */
inline new_command() {
    k = 0;
    do
    :: k < CAP -> h2m[k].cur = 0; m2h[k].cur = 0; k++
    :: else -> break
    od;
    execs = 0;
    seen = 0
}

inline flush_h2m() {
    k = 0;
    do
    :: k < CAP -> h2m[k].type = NONE; h2m[k].seq = 0; h2m[k].content = 0; h2m[k].cur = 0; h2m[k].age = 0; k++
    :: else -> break
    od
}

inline flush_m2h() {
    k = 0;
    do
    :: k < CAP -> m2h[k].type = NONE; m2h[k].seq = 0; m2h[k].content = 0; m2h[k].cur = 0; m2h[k].age = 0; k++
    :: else -> break
    od
}

/* 250 ms of host silence: the MCU brakes to rest. Frames live less than one 50 ms ACK timeout, so every
 * frame of an earlier command is gone by then; the host's retries of one command span 200 ms, so none
 * of a command the MCU has received can follow (hence only between commands, or before any frame of the
 * present one arrived; a brake after that is 250 ms on, when the host has its answer or has given up). */
inline silence() {
    k = CAP;
    do
    :: k > 0 -> k--; if :: h2m[k].type != NONE && !h2m[k].cur -> drop_h2m(k) :: else -> skip fi
    :: else -> break
    od;
    braked = 1;
    printf("mcu: host silence, brake\n")
}

inline transmit() {
    age_lines();
    put_h2m(kind, seq, content, 1)
}

active proctype Host()
{
    byte seq = 0, tries, j, k, pick;
    mtype kind, want;
    bit content;
    do
    :: atomic {                                     /* link.request(): a new command, the next seq */
        if
        :: kind = PING; want = PONG
        :: kind = MOVE; want = ACK;
#if defined(SAME_CONTENT) || defined(RESYNC)
            if :: content = 0 :: content = 1 fi      /* anything, even the last MOVE again */
#else
            /* Assumption: a new MOVE is never byte-identical to the last one the MCU executed (the
             * GoalFilter sends a goal only when it changed; see README for when a resync breaks this). */
            content = 1 - ran_content
#endif
        fi;
        seq = (seq + 1) % SEQ_MOD;
        printf("host: new %e seq %d content %d\n", kind, seq, content);
        new_command();
        tries = 0;
        transmit()
       }
       do
       :: atomic {                                  /* the reader thread takes a frame off the line */
            m2h[0].type != NONE;
            if :: pick = 0 :: m2h[1].type != NONE -> pick = 1 fi;
            if
            :: true -> skip                                     /* delivered */
            :: true -> drop_m2h(pick); goto skipped            /* lost, or its CRC fails: dropped */
            fi;
            if
            :: m2h[pick].seq == seq && m2h[pick].type == want ->
                printf("host: answer seq %d\n", seq);
                assert(m2h[pick].cur);                          /* never an earlier command's reply */
#ifdef RESYNC
                /* ran exactly once, or it is the MOVE the MCU is still on (harmless to swallow) */
                assert(kind != MOVE || execs == 1 || (execs == 0 && content == ran_content && !braked));
#else
                assert(kind != MOVE || execs == 1);             /* an acknowledged MOVE ran exactly once */
#endif
                if
                :: true -> drop_m2h(pick)
                :: true -> skip                                 /* the line duplicated it */
                fi;
                break
            :: else -> drop_m2h(pick)                          /* stale_replies: a late ACK */
            fi;
skipped:    skip
          }
#ifndef NO_SILENCE
       :: atomic { !seen -> silence() }
#endif
       :: atomic { tries < RETRIES -> tries++; printf("host: timeout, resend seq %d\n", seq); transmit() }     /* ack timeout: the same bytes again */
       :: atomic { tries == RETRIES -> printf("host: give up seq %d\n", seq); flush_h2m(); break }     /* LinkError (the last try is long gone) */
       od
#ifndef NO_SILENCE
    :: atomic { flush_h2m(); silence() }            /* between commands: nothing is left on the line */
#endif
#ifndef NO_REOPEN
    :: atomic {                                     /* the port closes and reopens (>= 0.2 s): the line */
        flush_h2m(); flush_m2h();                   /* is empty by then, and the counter starts anywhere */
        if :: seq = 0 :: seq = 1 :: seq = 2 :: seq = 3 fi;
        seq = seq % SEQ_MOD;
        printf("host: reopen, seq now %d\n", seq)
       }
#endif
    od
}

active proctype Mcu()
{
    byte last_seq = 0, pick, j, k;
    mtype last_type = NONE;                         /* commands_init: no command type is 0, so the first */
                                                    /* frame is never a duplicate */
    bit last_content;
    byte t_seq; mtype t_type; bit t_content, t_cur;
    do
    :: atomic {
        h2m[0].type != NONE;
#ifdef REORDER_H2M
        if :: pick = 0 :: h2m[1].type != NONE -> pick = 1 fi;
#else
        pick = 0;                                   /* the UART delivers in order */
#endif
        t_type = h2m[pick].type; t_seq = h2m[pick].seq; t_content = h2m[pick].content; t_cur = h2m[pick].cur;
        if
        :: true -> drop_h2m(pick)                  /* delivered */
        :: true -> skip                             /* delivered, and the line repeats it */
        :: true -> drop_h2m(pick); printf("line: lost %e seq %d\n", t_type, t_seq); goto done   /* or its CRC fails */
        fi;
        if :: t_cur -> seen = 1 :: else -> skip fi;
        if
        :: t_type == PING -> put_m2h(PONG, t_seq, 0, t_cur)     /* always answered, remembers nothing */
        :: t_type == MOVE ->
#ifdef OLD_RULE
            if
            :: t_seq == last_seq && t_type == last_type -> printf("mcu: duplicate seq %d\n", t_seq);
                put_m2h(ACK, t_seq, 0, t_cur)
#else
            if
#ifdef NO_FORGET
            :: t_seq == last_seq && t_type == last_type && t_content == last_content ->
#else
            :: t_seq == last_seq && t_type == last_type && t_content == last_content && !braked ->
#endif
                printf("mcu: duplicate seq %d\n", t_seq);
                put_m2h(ACK, t_seq, 0, t_cur)      /* rx_duplicates: the stored result again */
#endif
            :: else ->
                printf("mcu: execute MOVE seq %d content %d\n", t_seq, t_content);
                assert(t_cur);                      /* no stale retransmission runs as new */
                execs++;
                assert(execs <= 1);
                last_seq = t_seq; last_type = t_type; last_content = t_content; ran_content = t_content;
                braked = 0;
                put_m2h(ACK, t_seq, 0, t_cur)
            fi
        fi;
done:   skip
       }
    od
}
