/*
 * test_board_converge.c: the merge is commutative, associative and
 * idempotent, checked as a property over random op sets.
 *
 * Each case draws a random set of upserts and deletes on a few elements,
 * with random properties and stamps from a few origins (hlc values drawn
 * from a narrow range so that ties on hlc are common), then applies it to
 * several boards, each in its own random permutation with random duplicates;
 * some boards are snapshotted (state encode/decode) half-way and continue
 * on the restored copy. All boards must end with the same state hash, the
 * same JSON and the same version vector. A quarter of the cases also forge
 * ops that share a stamp with different contents (never produced by a
 * correct node) to exercise the tie-break.
 *
 * WB_SEED=<n> reruns one seed; WB_CASES=<n> changes the number of cases
 * (default 10000). The seed is printed on failure.
 */
#include <time.h>

#include "board.h"
#include "codec.h"
#include "wbtest.h"

#define MAX_OPS 48
#define BOARDS 4

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* Storage for one case's ops and the values they point to. */
typedef struct case_ops {
    wb_op ops[MAX_OPS];
    size_t n;
    int32_t xy[MAX_OPS][8];
    uint16_t pr[MAX_OPS][4];
} case_ops;

static const char *const elem_ids[] = {"a", "b", "c", "d"};
static const char *const texts[] = {"", "x", "hello", "h\xc3\xa9", "zz"};
static const char *const zs[] = {"a0", "a1", "Zz", "b"};
static const char *const groups[] = {"", "g1", "g2"};

static void random_props(case_ops *c, size_t i, wb_props *p)
{
    do {
        p->mask = (uint32_t)rnd() & WB_PROP_ALL_MASK;
    } while (!p->mask);
    if (rnd_below(3) == 0) /* often small, realistic ops */
        p->mask &= WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y) |
                   WB_PROP_BIT(WB_PROP_TYPE);
    if (!p->mask)
        p->mask = WB_PROP_BIT(WB_PROP_X);
    p->type = (uint8_t)(1 + rnd_below(WB_ELEM_TYPE_MAX));
    p->x = (int32_t)rnd_below(7) - 3;
    p->y = (int32_t)rnd_below(5);
    p->width = (int32_t)rnd_below(4);
    p->height = (int32_t)rnd_below(4);
    p->rotation = rnd_below(3) * 100;
    p->stroke_color = rnd_below(2) ? 0xff0000ffu : 0;
    p->fill_color = rnd_below(3) ? 0x00ff00ffu : WB_COLOR_NONE;
    p->stroke_width = rnd_below(3);
    p->opacity = (uint8_t)rnd_below(101);
    p->text = (wb_str){texts[rnd_below(5)], 0};
    p->text.len = (uint32_t)strlen(p->text.ptr);
    p->font_size = 1 + rnd_below(3);
    uint32_t n = rnd_below(5);
    for (uint32_t k = 0; k < 2 * n; k++)
        c->xy[i][k] = (int32_t)rnd_below(9) - 4;
    int pr = rnd_below(2);
    for (uint32_t k = 0; k < n; k++)
        c->pr[i][k] = (uint16_t)rnd_below(1001);
    p->points = (wb_points){n, n ? c->xy[i] : NULL, pr && n ? c->pr[i] : NULL};
    p->z = (wb_str){zs[rnd_below(4)], 0};
    p->z.len = (uint32_t)strlen(p->z.ptr);
    p->locked = (uint8_t)rnd_below(2);
    p->group = (wb_str){groups[rnd_below(3)], 0};
    p->group.len = (uint32_t)strlen(p->group.ptr);
}

static void random_case(case_ops *c, int forge)
{
    uint64_t oseq[4] = {0, 0, 0, 0};
    uint32_t nelem = 1 + rnd_below(4), norigin = 1 + rnd_below(3);
    c->n = 4 + rnd_below(MAX_OPS - 4);
    for (size_t i = 0; i < c->n; i++) {
        wb_op *op = &c->ops[i];
        memset(op, 0, sizeof *op);
        uint32_t origin = 1 + rnd_below(norigin);
        op->has_stamp = 1;
        op->stamp.node = origin;
        op->stamp.oseq = ++oseq[origin];
        op->stamp.hlc = 100 + rnd_below(12); /* narrow: ties on hlc */
        op->client_op_id = i;
        op->user = (wb_str){"u", 1};
        op->elem = (wb_str){elem_ids[0], 1};
        op->elem.ptr = elem_ids[rnd_below(nelem)];
        if (rnd_below(4) == 0) {
            op->kind = WB_OP_DELETE;
        } else {
            op->kind = WB_OP_UPSERT;
            random_props(c, i, &op->props);
        }
        if (forge && i > 0 && rnd_below(5) == 0) {
            /* Same stamp as an earlier op, other contents. */
            op->stamp = c->ops[rnd_below((uint32_t)i)].stamp;
        }
    }
}

static void shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below((uint32_t)i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* Applies the case to a fresh board in a random order with duplicates,
 * possibly through a snapshot half-way. Returns the board or NULL. */
static board *apply_shuffled(const case_ops *c, int snapshot)
{
    size_t order[3 * MAX_OPS], n = 0;
    for (size_t i = 0; i < c->n; i++) {
        order[n++] = i;
        uint32_t dups = rnd_below(4) == 0 ? 1 + rnd_below(2) : 0;
        for (uint32_t d = 0; d < dups; d++)
            order[n++] = i;
    }
    shuffle(order, n);
    board *b;
    if (board_create("conv", 4, NULL, &b) != 0)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        if (board_apply_op(b, &c->ops[order[k]]) != 0) {
            board_free(b);
            return NULL;
        }
        if (snapshot && k == n / 2) {
            uint8_t *buf;
            size_t len;
            board *r;
            if (board_state_encode(b, &buf, &len) != 0 ||
                board_state_decode(buf, len, NULL, &r) != 0) {
                board_free(b);
                return NULL;
            }
            free(buf);
            board_free(b);
            b = r;
        }
    }
    return b;
}

static int run_case(uint64_t seed, size_t *visible_total)
{
    rng_state = seed;
    static case_ops c;
    random_case(&c, rnd_below(4) == 0);
    uint64_t hashes[BOARDS];
    char *json[BOARDS] = {NULL};
    int ok = 1;
    for (int k = 0; k < BOARDS && ok; k++) {
        board *b = apply_shuffled(&c, k >= 2);
        if (!b || board_state_hash(b, &hashes[k]) != 0 ||
            board_to_json(b, &json[k], NULL) != 0) {
            fprintf(stderr, "  seed %llu: board %d failed to apply\n",
                    (unsigned long long)seed, k);
            ok = 0;
        }
        if (b && k == 0)
            *visible_total += board_element_count(b);
        board_free(b);
        if (ok && k > 0 &&
            (hashes[k] != hashes[0] || strcmp(json[k], json[0]) != 0)) {
            fprintf(stderr,
                    "  seed %llu: board %d diverged\n    %s\n    %s\n",
                    (unsigned long long)seed, k, json[0], json[k]);
            ok = 0;
        }
    }
    for (int k = 0; k < BOARDS; k++)
        free(json[k]);
    return ok;
}

static void test_random_permutations_converge(void)
{
    const char *env = getenv("WB_SEED");
    const char *cases_env = getenv("WB_CASES");
    size_t cases = cases_env ? strtoul(cases_env, NULL, 10) : 10000;
    uint64_t base = env ? strtoull(env, NULL, 10)
                        : (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    if (env)
        cases = 1;
    size_t visible = 0;
    for (size_t i = 0; i < cases; i++) {
        uint64_t seed = base + i;
        if (!run_case(seed, &visible))
            CHECK_MSG(0, "diverged: rerun with WB_SEED=%llu",
                      (unsigned long long)seed);
    }
    fprintf(stderr, "  %zu cases from seed %llu converged (%zu visible "
            "elements at the end in total)\n", cases,
            (unsigned long long)base, visible);
    /* The generator must produce non-trivial boards, or the test is void. */
    CHECK(cases < 100 || visible > cases / 2);
}

/* Deterministic cross-check: the state does not depend on how the set is
 * split across batches of a board that was restored from a snapshot of
 * another board that saw a different subset first (associativity). */
static void test_split_and_restore(void)
{
    rng_state = 12345;
    for (int round = 0; round < 200; round++) {
        static case_ops c;
        random_case(&c, 0);
        board *all, *part;
        CHECK_OK(board_create("conv", 4, NULL, &all));
        CHECK_OK(board_create("conv", 4, NULL, &part));
        size_t cut = c.n / 2;
        for (size_t i = 0; i < c.n; i++)
            CHECK_OK(board_apply_op(all, &c.ops[c.n - 1 - i]));
        for (size_t i = cut; i < c.n; i++)
            CHECK_OK(board_apply_op(part, &c.ops[i]));
        uint8_t *buf;
        size_t len;
        board *r;
        CHECK_OK(board_state_encode(part, &buf, &len));
        CHECK_OK(board_state_decode(buf, len, NULL, &r));
        free(buf);
        for (size_t i = 0; i < c.n; i++) /* everything again, overlap too */
            CHECK_OK(board_apply_op(r, &c.ops[i]));
        uint64_t h1, h2;
        CHECK_OK(board_state_hash(all, &h1));
        CHECK_OK(board_state_hash(r, &h2));
        CHECK_MSG(h1 == h2, "round %d diverged", round);
        board_free(all);
        board_free(part);
        board_free(r);
    }
}

int main(void)
{
    WB_RUN(test_random_permutations_converge);
    WB_RUN(test_split_and_restore);
    return wb_test_summary();
}
