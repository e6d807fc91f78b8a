/* hobbes-cli.c — one-off calls against a Hobbes cluster.
 *
 *   hobbes-cli --config FILE [--replica R] [--timeout MS] call PROC ARG...
 *
 * Arguments that look like decimal integers are sent as integers, anything
 * else as text (prefix with "s:" to force text, e.g. s:42). The result goes
 * to stdout: every value on one line separated by spaces, "OK" for a call
 * that returns nothing (or only NULL). A call that fails or aborts prints
 * the error on stderr and exits 1; kv.get of a missing key prints
 * "not found" on stderr and exits 1; usage errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hobbes.h"

static void
s_usage(void)
{
    fprintf(stderr, "usage: hobbes-cli --config FILE [--replica R] [--timeout MS] "
                    "call PROC [ARG...]\n"
                    "       integers are sent as integers; prefix s: to send text\n");
}

static hb_val_t
s_parse_arg(const char *s)
{
    if (strncmp(s, "s:", 2) == 0)
        return hb_val_str(s + 2, (uint32_t)strlen(s + 2));
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == '\0' && errno == 0 && (s[0] != '0' || s[1] == '\0'))
        return hb_val_int(v);
    if (*s && *end == '\0' && errno == 0 && s[0] == '-' && s[1] != '0')
        return hb_val_int(v);
    return hb_val_str(s, (uint32_t)strlen(s));
}

static void
s_print_val(const hb_val_t *v)
{
    switch (v->type) {
    case HB_VAL_NIL: fputs("NULL", stdout); break;
    case HB_VAL_INT: printf("%" PRId64, v->u.i); break;
    case HB_VAL_BOOL: fputs(v->u.b ? "true" : "false", stdout); break;
    case HB_VAL_DOUBLE: printf("%.17g", v->u.d); break;
    case HB_VAL_STR:
    case HB_VAL_BIN: fwrite(v->u.s.ptr, 1, v->u.s.len, stdout); break;
    }
}

int
main(int argc, char **argv)
{
    const char *config = getenv("HOBBES_CONFIG");
    long replica = 0, timeout = 10000;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"replica", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+c:r:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'r': replica = strtol(optarg, NULL, 10); break;
        case 't': timeout = strtol(optarg, NULL, 10); break;
        default: s_usage(); return 2;
        }
    }
    if (!config || optind + 2 > argc || strcmp(argv[optind], "call") != 0 || replica < 0 ||
        replica > 65535 || timeout <= 0) {
        s_usage();
        return 2;
    }
    const char *proc = argv[optind + 1];
    int nargs = argc - optind - 2;
    hb_val_t *args = calloc((size_t)nargs + 1, sizeof *args);
    for (int i = 0; i < nargs; i++)
        args[i] = s_parse_arg(argv[optind + 2 + i]);

    char err[512];
    hb_client_t *client = hb_client_new(config, (uint16_t)replica, err, sizeof err);
    if (!client) {
        fprintf(stderr, "hobbes-cli: %s\n", err);
        free(args);
        return 1;
    }
    hb_result_t *res = NULL;
    hb_rc_t rc = hb_client_call(client, proc, args, (uint32_t)nargs, (int)timeout, &res);
    int code = 0;
    if (rc != HB_OK) {
        fprintf(stderr, "hobbes-cli: %s: %s\n", hb_rc_str(rc), hb_client_last_error(client));
        code = 1;
    } else if (res->rc != HB_OK) {
        fprintf(stderr, "hobbes-cli: %s: %s\n", hb_rc_str(res->rc), res->msg);
        code = 1;
    } else if (res->nvals == 1 && res->vals[0].type == HB_VAL_NIL &&
               strcmp(proc, "kv.get") == 0) {
        fprintf(stderr, "hobbes-cli: not found\n");
        code = 1;
    } else if (res->nvals == 0 || (res->nvals == 1 && res->vals[0].type == HB_VAL_NIL)) {
        puts("OK");
    } else {
        for (uint32_t i = 0; i < res->nvals; i++) {
            if (i)
                putchar(' ');
            s_print_val(&res->vals[i]);
        }
        putchar('\n');
    }
    hb_result_destroy(&res);
    hb_client_destroy(&client);
    free(args);
    return code;
}
