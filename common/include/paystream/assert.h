/*
 * PS_ASSERT: always-on assertions for programmer errors (a broken invariant,
 * a NULL where the contract forbids it). Operating errors such as bad input,
 * a lost connection or a full queue are returned as ps_err_t, never asserted.
 * A failed assertion prints file, line and expression, then aborts: the
 * services are exactly-once by design, so crash-and-restart is safe.
 */
#ifndef PAYSTREAM_ASSERT_H
#define PAYSTREAM_ASSERT_H

_Noreturn void ps_assert_fail(const char *expr, const char *file, int line, const char *func);

#define PS_ASSERT(expr)                                                                  \
    ((expr) ? (void)0 : ps_assert_fail(#expr, __FILE__, __LINE__, __func__))

/* Checks that are too expensive for production builds. */
#ifdef PS_DEBUG
#define PS_DEBUG_ASSERT(expr) PS_ASSERT(expr)
#else
#define PS_DEBUG_ASSERT(expr) ((void)0)
#endif

#endif
