
/*
 * Copyright (C) ngx_spiffe developers
 */


#ifndef _TEST_SERVER_H_INCLUDED_
#define _TEST_SERVER_H_INCLUDED_


/*
 * A Python test server run by a unit test: /usr/bin/python3 (or
 * $SPIFFE_TEST_PYTHON) runs script (or the path in the environment
 * variable script_env) with one argument.  The script writes the file
 * ready once it listens.
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>


#define TEST_PYTHON  "/usr/bin/python3"


/*
 * ready opened, with the server's pid in *pid; or NULL and *pid -1 when
 * there is no Python or script to run, 0 when the server exited, else
 * the server that did not get ready (the reason is on stderr)
 */

static inline FILE *
test_server_start(const char *script_env, const char *script,
    const char *arg, const char *ready, pid_t *pid)
{
    int               i, status;
    FILE             *f;
    const char       *python, *s;
    struct timespec   ts;

    *pid = -1;

    python = getenv("SPIFFE_TEST_PYTHON");
    python = (python != NULL) ? python : TEST_PYTHON;
    s = getenv(script_env);
    script = (s != NULL) ? s : script;

    if (access(python, X_OK) != 0 || access(script, R_OK) != 0) {
        return NULL;
    }

    *pid = fork();

    if (*pid == 0) {
        execl(python, python, script, arg, (char *) NULL);
        _exit(127);
    }

    if (*pid == -1) {
        perror("fork");
        return NULL;
    }

    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;

    /* up to 30 s: the host may be loaded */

    for (i = 0; i < 600; i++) {
        f = fopen(ready, "r");
        if (f != NULL) {
            return f;
        }

        if (waitpid(*pid, &status, WNOHANG) == *pid) {
            fprintf(stderr, "%s exited (status %d)\n", script,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            *pid = 0;
            return NULL;
        }

        nanosleep(&ts, NULL);
    }

    fprintf(stderr, "%s did not start\n", script);

    return NULL;
}


#endif /* _TEST_SERVER_H_INCLUDED_ */
