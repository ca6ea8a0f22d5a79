
/*
 * Copyright (C) ngx_spiffe developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <spiffe_tdset.h>


/* an element: the key first, then what the set maps it to */

typedef struct {
    spiffe_td_key_t  key;
    int              value;
} elt_t;


static void
elt(elt_t *e, const char *td, int value)
{
    e->key.td = td;
    e->key.td_len = strlen(td);
    e->value = value;
}


static int
find(const elt_t *set, size_t n, const char *td)
{
    const elt_t  *e;

    e = spiffe_tdset_find(set, n, sizeof(elt_t), td, strlen(td));

    return (e != NULL) ? e->value : -1;
}


static void
test_order(void **state)
{
    (void) state;

    /* by length first, then bytes */

    assert_true(spiffe_td_cmp("z.org", 5, "aa.org", 6) < 0);
    assert_true(spiffe_td_cmp("b.org", 5, "a.org", 5) > 0);
    assert_int_equal(spiffe_td_cmp("a.org", 5, "a.org", 5), 0);
    assert_int_equal(spiffe_td_cmp("", 0, "", 0), 0);
}


static void
test_sort_find(void **state)
{
    size_t  i;
    elt_t   set[5];

    (void) state;

    elt(&set[0], "example.org", 0);
    elt(&set[1], "b.org", 1);
    elt(&set[2], "zz.example.org", 2);
    elt(&set[3], "a.org", 3);
    elt(&set[4], "c.org", 4);

    /* not sorted yet: found one by one */

    assert_ptr_equal(spiffe_tdset_lfind(set, 5, sizeof(elt_t), "a.org", 5),
                     &set[3]);
    assert_null(spiffe_tdset_lfind(set, 3, sizeof(elt_t), "a.org", 5));
    assert_null(spiffe_tdset_lfind(set, 0, sizeof(elt_t), "a.org", 5));

    assert_int_equal(spiffe_tdset_sort(set, 5, sizeof(elt_t)), 0);

    for (i = 1; i < 5; i++) {
        assert_true(spiffe_td_cmp(set[i - 1].key.td, set[i - 1].key.td_len,
                                  set[i].key.td, set[i].key.td_len)
                    < 0);
    }

    assert_int_equal(find(set, 5, "example.org"), 0);
    assert_int_equal(find(set, 5, "b.org"), 1);
    assert_int_equal(find(set, 5, "zz.example.org"), 2);
    assert_int_equal(find(set, 5, "a.org"), 3);
    assert_int_equal(find(set, 5, "c.org"), 4);
    assert_int_equal(find(set, 5, "d.org"), -1);
    assert_int_equal(find(set, 5, "example.or"), -1);
    assert_int_equal(find(set, 5, ""), -1);
    assert_int_equal(find(set, 0, "a.org"), -1);

    /* one trust domain twice */

    elt(&set[4], "b.org", 5);
    assert_int_equal(spiffe_tdset_sort(set, 5, sizeof(elt_t)), -1);

    /* sets of none or one are sorted */

    assert_int_equal(spiffe_tdset_sort(set, 1, sizeof(elt_t)), 0);
    assert_int_equal(spiffe_tdset_sort(NULL, 0, sizeof(elt_t)), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_sort_find),
    };

    return cmocka_run_group_tests_name("spiffe_tdset", tests, NULL, NULL);
}
