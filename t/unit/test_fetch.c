
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <spiffe_fetch.h>

#include "certs.h"
#include "server.h"


/*
 * The fetches run against t/unit/fetch_test_server.py (from the repo
 * root, or $SPIFFE_TEST_FETCH_SERVER) with /usr/bin/python3 (or
 * $SPIFFE_TEST_PYTHON): a web server certificate on one port, an
 * X.509-SVID on the other.  They are skipped when there is no Python; a
 * server that does not start fails them.
 */
#define TEST_SERVER  "t/unit/fetch_test_server.py"

#define ENDPOINT_ID  "spiffe://example.org/bundle-endpoint"
#define OTHER_ID     "spiffe://example.org/other"


typedef struct {
    pid_t            pid;
    char             dir[64];
    int              web_port;
    int              svid_port;
    EVP_PKEY        *keys[6];
    X509            *web_ca;
    X509            *other_ca;
    X509            *root;          /* example.org */
    X509            *inter;
    X509            *web;           /* localhost, from web_ca */
    X509            *svid;          /* ENDPOINT_ID, from inter */
    STACK_OF(X509)  *anchors;       /* root */
} env_t;


static int
write_pem(env_t *env, const char *name, X509 *a, X509 *b, EVP_PKEY *key)
{
    int    ok;
    char   path[128];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", env->dir, name);

    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }

    ok = (a == NULL || PEM_write_X509(f, a) == 1)
         && (b == NULL || PEM_write_X509(f, b) == 1)
         && (key == NULL
             || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                == 1);

    return (fclose(f) == 0 && ok) ? 0 : -1;
}


static int
make_certs(env_t *env)
{
    int          i;
    test_cert_t  c;

    for (i = 0; i < 6; i++) {
        env->keys[i] = test_key();
        if (env->keys[i] == NULL) {
            return -1;
        }
    }

    env->web_ca = test_ca("web CA", env->keys[0], NULL, NULL);
    env->other_ca = test_ca("other CA", env->keys[1], NULL, NULL);
    env->root = test_ca("example.org root", env->keys[2], NULL, NULL);

    if (env->root == NULL) {
        return -1;
    }

    env->inter = test_ca("example.org intermediate", env->keys[3], env->root,
                         env->keys[2]);

    memset(&c, 0, sizeof(test_cert_t));
    c.cn = "localhost";
    c.dns = "localhost";
    c.bc = TEST_BC_LEAF;
    c.ku = TEST_KU_DS;
    c.eku = NID_server_auth;
    c.serial = 2;

    env->web = test_cert(&c, env->keys[4], env->web_ca, env->keys[0]);

    if (env->inter == NULL || env->web == NULL) {
        return -1;
    }

    env->svid = test_leaf(ENDPOINT_ID, 3, env->keys[5], env->inter,
                          env->keys[3]);
    env->anchors = sk_X509_new_null();

    if (env->svid == NULL || env->anchors == NULL
        || sk_X509_push(env->anchors, env->root) <= 0)
    {
        return -1;
    }

    return (write_pem(env, "web.pem", env->web, NULL, NULL) == 0
            && write_pem(env, "web.key", NULL, NULL, env->keys[4]) == 0
            && write_pem(env, "svid.pem", env->svid, env->inter, NULL) == 0
            && write_pem(env, "svid.key", NULL, NULL, env->keys[5]) == 0
            && write_pem(env, "web-ca.pem", env->web_ca, NULL, NULL) == 0
            && write_pem(env, "other-ca.pem", env->other_ca, NULL, NULL)
               == 0)
           ? 0 : -1;
}


static int
server_start(void **state)
{
    int     n;
    char    path[128];
    FILE   *f;
    env_t  *env;

    env = calloc(1, sizeof(env_t));
    if (env == NULL) {
        return -1;
    }

    *state = env;
    env->pid = -1;

    strcpy(env->dir, "/tmp/ngx_spiffe_fetch.XXXXXX");

    if (mkdtemp(env->dir) == NULL || make_certs(env) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/ports", env->dir);

    f = test_server_start("SPIFFE_TEST_FETCH_SERVER", TEST_SERVER, env->dir,
                          path, &env->pid);
    if (f == NULL) {
        return (env->pid == -1) ? 0 : -1;
    }

    n = fscanf(f, "%d %d", &env->web_port, &env->svid_port);
    fclose(f);

    return (n == 2) ? 0 : -1;
}


static int
server_stop(void **state)
{
    int     i;
    char    path[128];
    env_t  *env = *state;

    static const char  *files[] = {
        "ports", "web.pem", "web.key", "svid.pem", "svid.key", "web-ca.pem",
        "other-ca.pem"
    };

    if (env->pid > 0) {
        kill(env->pid, SIGTERM);
        waitpid(env->pid, NULL, 0);
    }

    if (env->dir[0] != '\0') {
        for (i = 0; i < (int) (sizeof(files) / sizeof(files[0])); i++) {
            snprintf(path, sizeof(path), "%s/%s", env->dir, files[i]);
            unlink(path);
        }

        rmdir(env->dir);
    }

    for (i = 0; i < 6; i++) {
        EVP_PKEY_free(env->keys[i]);
    }

    X509_free(env->web_ca);
    X509_free(env->other_ca);
    X509_free(env->root);
    X509_free(env->inter);
    X509_free(env->web);
    X509_free(env->svid);
    sk_X509_free(env->anchors);
    free(env);

    return 0;
}


static env_t *
env_get(void **state)
{
    env_t  *env = *state;

    if (env->pid <= 0) {
        skip();
    }

    return env;
}


/*
 * https_spiffe or https_web with the web CA, for https://HOST:PORT/PATH
 * where PORT is the SVID's or the web server's; the strings are static
 */

static spiffe_fetch_conf_t
conf_of(env_t *env, int spiffe, int svid_port, const char *host,
    const char *path)
{
    spiffe_fetch_conf_t  conf;

    static char          url[256], ca_file[128];

    snprintf(url, sizeof(url), "https://%s:%d%s", host,
             svid_port ? env->svid_port : env->web_port, path);
    snprintf(ca_file, sizeof(ca_file), "%s/web-ca.pem", env->dir);

    memset(&conf, 0, sizeof(spiffe_fetch_conf_t));
    conf.url = url;
    conf.https_spiffe = spiffe;
    conf.timeout_ms = 20000;
    conf.max = 4096;

    if (spiffe) {
        conf.endpoint_id = ENDPOINT_ID;
        conf.anchors = env->anchors;

    } else {
        conf.ca_file = ca_file;
    }

    return conf;
}


/* runs the transfer to its end; the caller destroys f */

static int
fetch(const spiffe_fetch_conf_t *conf, spiffe_fetch_t **out)
{
    int              rc;
    const char      *err;
    spiffe_fetch_t  *f;

    err = NULL;
    f = spiffe_fetch_create(conf, &err);
    if (f == NULL) {
        fail_msg("spiffe_fetch_create: %s", err);
    }

    assert_non_null(f->easy);

    rc = spiffe_fetch_done(f, curl_easy_perform(f->easy));

    assert_true(rc == 0 || f->error[0] != '\0');
    assert_true(rc == -1 || f->error[0] == '\0');
    assert_int_equal(ERR_peek_error(), 0);

    *out = f;

    return rc;
}


/* the body is len bytes of "0123456789" repeated */

static void
expect_fetched(const spiffe_fetch_conf_t *conf, size_t len)
{
    size_t           i;
    spiffe_fetch_t  *f;

    if (fetch(conf, &f) != 0) {
        fail_msg("%s: \"%s\"", conf->url, f->error);
    }

    assert_int_equal(f->len, len);
    assert_non_null(f->body);
    assert_int_equal(f->body[len], '\0');

    for (i = 0; i < len; i++) {
        if (f->body[i] != (char) ('0' + i % 10)) {
            fail_msg("byte %zu of the body is 0x%02x", i,
                     (unsigned char) f->body[i]);
        }
    }

    spiffe_fetch_destroy(f);
}


/* the reason is want, or holds it for libcurl's (not exact) */

static void
expect_refused(const spiffe_fetch_conf_t *conf, const char *want, int exact)
{
    spiffe_fetch_t  *f;

    if (fetch(conf, &f) != -1) {
        fail_msg("fetched %s, want \"%s\"", conf->url, want);
    }

    if (exact ? strcmp(f->error, want) != 0 : strstr(f->error, want) == NULL)
    {
        fail_msg("%s: \"%s\", want \"%s\"", conf->url, f->error, want);
    }

    spiffe_fetch_destroy(f);
}


static void
test_web_refused(void **state)
{
    char                  ca_file[128];
    env_t                *env;
    spiffe_fetch_conf_t   conf;

    env = env_get(state);

    /* another CA */

    snprintf(ca_file, sizeof(ca_file), "%s/other-ca.pem", env->dir);
    conf = conf_of(env, 0, 0, "localhost", "/bytes/100");
    conf.ca_file = ca_file;
    expect_refused(&conf, "SSL certificate problem: unable to get local "
                          "issuer certificate", 0);

    /* the system's CAs */

    conf.ca_file = NULL;
    expect_refused(&conf, "SSL certificate problem: unable to get local "
                          "issuer certificate", 0);

    /* a name the certificate does not have */

    conf = conf_of(env, 0, 0, "127.0.0.1", "/bytes/100");
    expect_refused(&conf, "'127.0.0.1'", 0);

    /* the SVID: not from the web CA */

    conf = conf_of(env, 0, 1, "localhost", "/bytes/100");
    expect_refused(&conf, "SSL certificate problem: unable to get local "
                          "issuer certificate", 0);

    /* plain HTTP */

    conf = conf_of(env, 0, 0, "localhost", "/bytes/100");
    conf.url = "http://localhost/bytes/100";
    expect_refused(&conf, "\"http\" not supported", 0);
}


static void
test_fetched(void **state)
{
    int                   spiffe;
    env_t                *env;
    STACK_OF(X509)       *anchors;
    spiffe_fetch_conf_t   conf;

    env = env_get(state);

    for (spiffe = 0; spiffe < 2; spiffe++) {
        conf = conf_of(env, spiffe, spiffe, "localhost", "/bytes/100");
        expect_fetched(&conf, 100);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/bytes/0");
        expect_fetched(&conf, 0);
    }

    /* host names play no part */

    conf = conf_of(env, 1, 1, "127.0.0.1", "/bytes/4096");
    expect_fetched(&conf, 4096);

    /* the intermediate as the anchor, among others */

    anchors = sk_X509_new_null();
    assert_non_null(anchors);
    assert_true(sk_X509_push(anchors, env->other_ca) > 0);
    assert_true(sk_X509_push(anchors, env->inter) > 0);

    conf = conf_of(env, 1, 1, "127.0.0.1", "/bytes/10");
    conf.anchors = anchors;
    expect_fetched(&conf, 10);

    sk_X509_free(anchors);
}


static void
test_spiffe_refused(void **state)
{
    env_t                *env;
    STACK_OF(X509)       *anchors;
    spiffe_fetch_conf_t   conf;

    env = env_get(state);

    conf = conf_of(env, 1, 1, "127.0.0.1", "/bytes/100");
    conf.endpoint_id = OTHER_ID;
    expect_refused(&conf, "the endpoint is \"" ENDPOINT_ID "\", not "
                          "endpoint_id \"" OTHER_ID "\"", 1);

    /* a prefix of the ID is not the ID */

    conf.endpoint_id = "spiffe://example.org/bundle";
    expect_refused(&conf, "the endpoint is \"" ENDPOINT_ID "\", not "
                          "endpoint_id \"spiffe://example.org/bundle\"", 1);

    /* anchors of another CA, none at all */

    anchors = sk_X509_new_null();
    assert_non_null(anchors);
    assert_true(sk_X509_push(anchors, env->other_ca) > 0);

    conf = conf_of(env, 1, 1, "127.0.0.1", "/bytes/100");
    conf.anchors = anchors;
    expect_refused(&conf, "the endpoint's X.509-SVID \"" ENDPOINT_ID "\": "
                          "unable to get local issuer certificate", 1);

    sk_X509_pop(anchors);
    expect_refused(&conf, "the endpoint's X.509-SVID \"" ENDPOINT_ID "\": "
                          "unable to get local issuer certificate", 1);
    sk_X509_free(anchors);

    /* a web server certificate is no SVID */

    conf = conf_of(env, 1, 0, "localhost", "/bytes/100");
    expect_refused(&conf, "the endpoint's certificate is not an X.509-SVID: "
                          "no URI SAN", 1);
}


static void
test_refused_answers(void **state)
{
    int                   spiffe;
    env_t                *env;
    spiffe_fetch_conf_t   conf;

    env = env_get(state);

    for (spiffe = 0; spiffe < 2; spiffe++) {

        /* the body cap: max bytes pass, one more does not */

        conf = conf_of(env, spiffe, spiffe, "localhost", "/bytes/1000");
        conf.max = 1000;
        expect_fetched(&conf, 1000);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/bytes/1001");
        conf.max = 1000;
        expect_refused(&conf, "the bundle is larger than 1000 bytes", 1);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/bytes/300000");
        conf.max = 1000;
        expect_refused(&conf, "the bundle is larger than 1000 bytes", 1);

        /* statuses other than 200, redirections not followed */

        conf = conf_of(env, spiffe, spiffe, "localhost", "/status/404");
        expect_refused(&conf, "HTTP status 404", 1);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/status/500");
        expect_refused(&conf, "HTTP status 500", 1);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/status/204");
        expect_refused(&conf, "HTTP status 204", 1);

        conf = conf_of(env, spiffe, spiffe, "localhost", "/redirect");
        expect_refused(&conf, "HTTP status 302", 1);
    }

    /* nobody listening */

    conf = conf_of(env, 1, 1, "localhost", "/bytes/1");
    conf.url = "https://127.0.0.1:1/bytes/1";
    expect_refused(&conf, "Failed to connect to 127.0.0.1 port 1", 0);
}


int
main(void)
{
    int  rc;

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_fetched),
        cmocka_unit_test(test_web_refused),
        cmocka_unit_test(test_spiffe_refused),
        cmocka_unit_test(test_refused_answers),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);

    rc = cmocka_run_group_tests(tests, server_start, server_stop);

    curl_global_cleanup();

    return rc;
}
