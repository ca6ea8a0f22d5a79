/*
 * Copyright (C) ngx_spiffe developers
 */


/*
 * Workload API addresses ("unix:PATH", "tcp://IP:PORT"): the input,
 * copied to a buffer of its own size (an overread shows), goes to
 * spiffe_workload_parse_address() with and without a result, which must
 * agree.  A parsed address printed back must parse to the same struct,
 * and a call made for it (spiffe_grpc_call_create(), which does not
 * connect) must have a URL that ends in the method.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include <spiffe_grpc.h>
#include <spiffe_workload.h>

#include "fuzz.h"


static const char  *const fuzz_methods[] = {
    "FetchX509SVID",
    "FetchJWTBundles",
    "M123456789012345678901234567890123456789012345678901234567890123",
};


static void
fuzz_unix_print(const spiffe_grpc_addr_t *a, char *out, size_t size)
{
    size_t                i, n;
    const unsigned char  *p;

    n = snprintf(out, size, "unix://");

    for (p = (const unsigned char *) a->path; *p != '\0'; p++) {
        FUZZ_CHECK(n + 4 < size);

        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '/' || *p == '.'
            || *p == '-' || *p == '_')
        {
            out[n++] = *p;

        } else {
            i = snprintf(out + n, size - n, "%%%02X", *p);
            n += i;
        }
    }

    out[n] = '\0';
}


static void
fuzz_address(const uint8_t *data, size_t size)
{
    int                       rc, rc2;
    char                     *s, url[512];
    const char               *err, *err2, *eff;
    unsigned char             sa[sizeof(struct in6_addr)];
    spiffe_grpc_addr_t        a, a2;
    spiffe_grpc_call_t       *call;
    spiffe_grpc_call_conf_t   conf;

    s = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(s != NULL);

    if (size > 0) {
        memcpy(s, data, size);
    }

    err = NULL;
    err2 = NULL;

    rc = spiffe_workload_parse_address(s, size, &a, &err);
    rc2 = spiffe_workload_parse_address(s, size, NULL, &err2);

    free(s);

    FUZZ_CHECK(rc == rc2);
    FUZZ_CHECK(err == err2);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err != NULL));

    if (rc != 0) {
        return;
    }

    if (a.type == SPIFFE_GRPC_ADDR_UNIX) {
        FUZZ_CHECK(strnlen(a.path, sizeof(a.path)) < sizeof(a.path));
        FUZZ_CHECK(a.path[0] == '/');
        fuzz_unix_print(&a, url, sizeof(url));

    } else {
        FUZZ_CHECK(a.type == SPIFFE_GRPC_ADDR_TCP);
        FUZZ_CHECK(a.family == AF_INET || a.family == AF_INET6);
        FUZZ_CHECK(a.port >= 1 && a.port <= 65535);
        FUZZ_CHECK(strnlen(a.ip, sizeof(a.ip)) < sizeof(a.ip));
        FUZZ_CHECK(inet_pton(a.family, a.ip, sa) == 1);

        snprintf(url, sizeof(url),
                 (a.family == AF_INET6) ? "tcp://[%s]:%u" : "tcp://%s:%u",
                 a.ip, a.port);
    }

    err = NULL;
    rc = spiffe_workload_parse_address(url, strlen(url), &a2, &err);

    if (rc != 0) {
        fprintf(stderr, "\"%s\": %s\n", url, err);
    }

    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(memcmp(&a, &a2, sizeof(a)) == 0);

    /* no message comes: the call never connects */

    memset(&conf, 0, sizeof(conf));
    conf.addr = &a;
    conf.method = fuzz_methods[size % 3];
    conf.on_message = fuzz_grpc_message;

    call = spiffe_grpc_call_create(&conf, &err);
    FUZZ_CHECK(call != NULL);

    eff = NULL;

    if (curl_easy_getinfo(call->easy, CURLINFO_EFFECTIVE_URL, &eff)
        == CURLE_OK && eff != NULL)
    {
        snprintf(url, sizeof(url), "/SpiffeWorkloadAPI/%s", conf.method);
        FUZZ_CHECK(strlen(eff) > strlen(url));
        FUZZ_CHECK(strcmp(eff + strlen(eff) - strlen(url), url) == 0);
    }

    spiffe_grpc_call_destroy(call);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_curl(fuzz_address, data, size);
}
