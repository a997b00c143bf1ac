/*
 * The dead-letters command: list the messages the processor could not apply
 * (table dead_letters) and re-drive selected ones after a fix, by producing
 * their exact bytes and key again to their topic and marking them
 * redriven_at. A re-driven message is an ordinary new message: it is applied
 * (idempotently) or, if still poison, dead-lettered again at its new offset.
 */
#ifndef PROC_REDRIVE_H
#define PROC_REDRIVE_H

#include <paystream/config.h>

/*
 *   dead-letters list [--pending] [--limit N]
 *   dead-letters redrive (--id ID)... | --all-pending
 * argv[0] is "dead-letters"; cfg and argv are borrowed. Returns the process
 * exit code: 0 success, 1 operational error, 2 usage error.
 */
int proc_dead_letters_main(const ps_config_t *cfg, int argc, char **argv);

#endif
