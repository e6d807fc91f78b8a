/* hobbesctl.c — cluster control: start, stop and inspect the processes of a
 * config that live on this host.
 *
 *   hobbesctl up     --config FILE [--data DIR]  start as daemons, wait healthy
 *   hobbesctl down   --config FILE [--data DIR]  stop (SIGTERM, then SIGKILL)
 *   hobbesctl status --config FILE [--data DIR]  pid, epochs, state hash
 *                    [--verbose]                 ... and every counter
 *   hobbesctl verify --config FILE               replicas' state hashes agree
 *   hobbesctl run    --config FILE [--data DIR]  up, stay in the foreground,
 *                                                Ctrl-C stops everything
 *
 * Each process gets a pid file and a log next to its data directory:
 * <data>/r<R>p<P>/<role>.pid and .log. A slot is "on this host" when its
 * endpoints are ipc://, inproc:// or tcp:// to a loopback address, this
 * host's name, or one of this host's interface addresses.
 *
 * The SQL gateways of the config (`sqlfront` sections) on this host are
 * started after the slots are healthy, as `hobbes-sqlfront --config FILE
 * --id N --data DIR --pidfile F`, with the pid file and log in their own
 * directory <data>/sqlf<N>/sqlfront.pid and .log; they are stopped first
 * and shown in their own table by status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hb_config.h"
#include "hb_util.h"
#include "hobbes.h"

static const char *s_roles[] = {"storage", "scheduler", "sequencer"};
static const int s_role_ids[] = {HB_ROLE_STORAGE, HB_ROLE_SCHEDULER, HB_ROLE_SEQUENCER};
#define S_NROLES 3

typedef struct {
    hb_config_t *cfg;          /* the cluster */
    char config_abs[PATH_MAX]; /* absolute config path, for children */
    char data_abs[PATH_MAX];   /* absolute data root */
    char bindir[PATH_MAX];     /* where hobbesctl lives */
} s_ctl_t;

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static void
s_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ locality */

static int
s_host_is_local(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
        strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        return 1;
    char name[256];
    if (gethostname(name, sizeof name) == 0 && strcmp(name, host) == 0)
        return 1;
    struct ifaddrs *ifs = NULL, *i;
    int local = 0;
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i && !local; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            char addr[64];
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr,
                      sizeof addr);
            local = strcmp(addr, host) == 0;
        }
        freeifaddrs(ifs);
    }
    return local;
}

static int
s_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    char host[256];
    snprintf(host, sizeof host, "%s", ep + 6);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    return s_host_is_local(host);
}

static int
s_slot_is_local(const hb_slot_cfg_t *slot)
{
    return s_endpoint_is_local(slot->sequencer) && s_endpoint_is_local(slot->scheduler) &&
           s_endpoint_is_local(slot->storage);
}

/* -------------------------------------------------------------- paths */

static void
s_node_file(const s_ctl_t *ctl, const hb_slot_cfg_t *slot, int role_i, const char *ext,
            char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/r%up%u/%s.%s", ctl->data_abs, slot->replica,
             slot->partition, s_roles[role_i], ext);
}

static pid_t
s_read_pid(const char *pidfile)
{
    FILE *f = fopen(pidfile, "r");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 0 || kill((pid_t)pid, 0) < 0)
        return 0;
    return (pid_t)pid;
}

/* Finds hobbes-<name>: in $HOBBES_BIN_DIR, in the build tree next to ours
 * (<build>/<name>/hobbes-<name>), or next to hobbesctl (installed). Returns
 * 0 with the path in out, or -1 with the places looked at in out. */
static int
s_find_binary(const s_ctl_t *ctl, const char *name, char *out, size_t outlen)
{
    const char *env = getenv("HOBBES_BIN_DIR");
    char cand[3][PATH_MAX];
    int n = 0;
    if (env)
        snprintf(cand[n++], PATH_MAX, "%s/hobbes-%s", env, name);
    snprintf(cand[n++], PATH_MAX, "%s/../%s/hobbes-%s", ctl->bindir, name, name);
    snprintf(cand[n++], PATH_MAX, "%s/hobbes-%s", ctl->bindir, name);
    for (int i = 0; i < n; i++)
        if (access(cand[i], X_OK) == 0) {
            snprintf(out, outlen, "%s", cand[i]);
            return 0;
        }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", cand[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return -1;
}

/* Forks and execs bin as a daemon (own session, stdin /dev/null, stdout
 * and stderr appended to logfile) with argv (NULL-terminated; argv[0] is
 * bin). Returns the child's pid or -1. */
static pid_t
s_daemon(const char *bin, char *const *argv, const char *logfile)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        int in = open("/dev/null", O_RDONLY);
        int log = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execv(bin, argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* ------------------------------------------------------------ actions */

static pid_t
s_spawn(const s_ctl_t *ctl, const hb_slot_cfg_t *slot, int role_i)
{
    char bin[PATH_MAX], pidfile[PATH_MAX], logfile[PATH_MAX];
    if (s_find_binary(ctl, s_roles[role_i], bin, sizeof bin) < 0) {
        fprintf(stderr,
                "hobbesctl: cannot find hobbes-%s (looked for %s; set "
                "HOBBES_BIN_DIR)\n",
                s_roles[role_i], bin);
        return -1;
    }
    s_node_file(ctl, slot, role_i, "pid", pidfile, sizeof pidfile);
    s_node_file(ctl, slot, role_i, "log", logfile, sizeof logfile);
    char r[16], p[16];
    snprintf(r, sizeof r, "%u", slot->replica);
    snprintf(p, sizeof p, "%u", slot->partition);
    char *argv[] = {
        bin, "--config", (char *)ctl->config_abs, "--replica", r,       "--partition",
        p,   "--data",   (char *)ctl->data_abs,   "--pidfile", pidfile, NULL};
    return s_daemon(bin, argv, logfile);
}

/* ------------------------------------------------------------ sqlfronts */

static int
s_sqlfront_is_local(const hb_sqlfront_cfg_t *f)
{
    return s_endpoint_is_local(f->endpoint);
}

/* Returns whether any sqlfront of the config lives on this host. */
static int
s_any_local_sqlfront(const s_ctl_t *ctl)
{
    for (uint16_t i = 0; i < ctl->cfg->nsqlfronts; i++)
        if (s_sqlfront_is_local(&ctl->cfg->sqlfronts[i]))
            return 1;
    return 0;
}

/* Writes <data>/sqlf<id>/sqlfront.<ext> into out. */
static void
s_sqlfront_file(const s_ctl_t *ctl, const hb_sqlfront_cfg_t *f, const char *ext,
                char *out, size_t outlen)
{
    char dir[PATH_MAX];
    hb_config_sqlfront_dir(ctl->cfg, ctl->data_abs, f->id, dir, sizeof dir);
    snprintf(out, outlen, "%s/sqlfront.%s", dir, ext);
}

static pid_t
s_spawn_sqlfront(const s_ctl_t *ctl, const hb_sqlfront_cfg_t *f, const char *bin)
{
    char pidfile[PATH_MAX], logfile[PATH_MAX], id[16];
    s_sqlfront_file(ctl, f, "pid", pidfile, sizeof pidfile);
    s_sqlfront_file(ctl, f, "log", logfile, sizeof logfile);
    snprintf(id, sizeof id, "%u", f->id);
    char *argv[] = {(char *)bin, "--config", (char *)ctl->config_abs, "--id",
                    id,          "--data",   (char *)ctl->data_abs,   "--pidfile",
                    pidfile,     NULL};
    return s_daemon(bin, argv, logfile);
}

/* Waits until process (role, replica, partition) answers STATUS (up to
 * 10 s). Returns 1 if it did. */
static int
s_wait_healthy(hb_client_t *client, int role, uint16_t replica, uint16_t partition)
{
    int ok = 0;
    for (int tries = 0; tries < 100 && !ok && !s_interrupted; tries++) {
        char *text = NULL;
        ok = hb_client_status(client, role, replica, partition, 200, &text) == HB_OK;
        free(text);
        if (!ok) {
            waitpid(-1, NULL, WNOHANG);
            s_sleep_ms(100);
        }
    }
    return ok;
}

/* Starts every local sqlfront not already running, then waits until each
 * answers STATUS. bin is hobbes-sqlfront. Returns 0 or 1; adds the number
 * started to *started. */
static int
s_up_sqlfronts(s_ctl_t *ctl, hb_client_t *client, const char *bin, int *started)
{
    int failed = 0;
    for (uint16_t i = 0; i < ctl->cfg->nsqlfronts; i++) {
        const hb_sqlfront_cfg_t *f = &ctl->cfg->sqlfronts[i];
        if (!s_sqlfront_is_local(f))
            continue;
        char dir[PATH_MAX], pidfile[PATH_MAX];
        hb_config_sqlfront_dir(ctl->cfg, ctl->data_abs, f->id, dir, sizeof dir);
        if (hb_mkdirs(dir) < 0) {
            fprintf(stderr, "hobbesctl: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        s_sqlfront_file(ctl, f, "pid", pidfile, sizeof pidfile);
        if (s_read_pid(pidfile))
            continue;
        if (s_spawn_sqlfront(ctl, f, bin) < 0) {
            fprintf(stderr, "hobbesctl: cannot start sqlfront %u: %s\n", f->id,
                    strerror(errno));
            failed++;
        } else {
            (*started)++;
        }
    }
    if (failed)
        return 1;
    for (uint16_t i = 0; i < ctl->cfg->nsqlfronts; i++) {
        const hb_sqlfront_cfg_t *f = &ctl->cfg->sqlfronts[i];
        if (!s_sqlfront_is_local(f))
            continue;
        if (!s_wait_healthy(client, HB_ROLE_SQLFRONT, f->replica, f->id)) {
            char logfile[PATH_MAX];
            s_sqlfront_file(ctl, f, "log", logfile, sizeof logfile);
            fprintf(stderr, "hobbesctl: sqlfront %u (%s) is not healthy; see %s\n", f->id,
                    f->endpoint, logfile);
            return 1;
        }
    }
    return 0;
}

static int
s_up(s_ctl_t *ctl, hb_client_t *client)
{
    int started = 0, failed = 0;
    /* A missing gateway binary fails before anything starts. */
    char sqlbin[PATH_MAX] = "";
    if (s_any_local_sqlfront(ctl) &&
        s_find_binary(ctl, "sqlfront", sqlbin, sizeof sqlbin) < 0) {
        fprintf(stderr,
                "hobbesctl: the config has sqlfront sections but hobbes-sqlfront was not "
                "found (looked for %s; set HOBBES_BIN_DIR)\n",
                sqlbin);
        return 1;
    }
    for (size_t s = 0; s < (size_t)ctl->cfg->replicas * ctl->cfg->partitions; s++) {
        const hb_slot_cfg_t *slot = &ctl->cfg->slots[s];
        if (!s_slot_is_local(slot))
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/r%up%u", ctl->data_abs, slot->replica,
                 slot->partition);
        if (hb_mkdirs(dir) < 0) {
            fprintf(stderr, "hobbesctl: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        for (int ri = 0; ri < S_NROLES; ri++) {
            char pidfile[PATH_MAX];
            s_node_file(ctl, slot, ri, "pid", pidfile, sizeof pidfile);
            if (s_read_pid(pidfile))
                continue;
            if (s_spawn(ctl, slot, ri) < 0)
                failed++;
            else
                started++;
        }
    }
    if (failed)
        return 1;
    /* Healthy: every local process answers STATUS. */
    for (size_t s = 0; s < (size_t)ctl->cfg->replicas * ctl->cfg->partitions; s++) {
        const hb_slot_cfg_t *slot = &ctl->cfg->slots[s];
        if (!s_slot_is_local(slot))
            continue;
        for (int ri = 0; ri < S_NROLES; ri++) {
            if (!s_wait_healthy(client, s_role_ids[ri], slot->replica, slot->partition)) {
                char logfile[PATH_MAX];
                s_node_file(ctl, slot, ri, "log", logfile, sizeof logfile);
                fprintf(stderr, "hobbesctl: %s r%up%u is not healthy; see %s\n",
                        s_roles[ri], slot->replica, slot->partition, logfile);
                return 1;
            }
        }
    }
    if (*sqlbin && s_up_sqlfronts(ctl, client, sqlbin, &started))
        return 1;
    char sqlnote[64] = "";
    if (ctl->cfg->nsqlfronts)
        snprintf(sqlnote, sizeof sqlnote, " + %u sqlfront(s)", ctl->cfg->nsqlfronts);
    printf(
        "cluster '%s' is up: %u replica(s) x %u partition(s)%s, %d process(es) started, "
        "data in %s\n",
        ctl->cfg->name, ctl->cfg->replicas, ctl->cfg->partitions, sqlnote, started,
        ctl->data_abs);
    return 0;
}

static int
s_down(s_ctl_t *ctl)
{
    pid_t pids[3 * 4096 + HB_SQLFRONT_MAX];
    size_t n = 0;
    /* The gateways first: they are clients of the slots. */
    for (uint16_t i = 0; i < ctl->cfg->nsqlfronts; i++) {
        const hb_sqlfront_cfg_t *f = &ctl->cfg->sqlfronts[i];
        if (!s_sqlfront_is_local(f))
            continue;
        char pidfile[PATH_MAX];
        s_sqlfront_file(ctl, f, "pid", pidfile, sizeof pidfile);
        pid_t pid = s_read_pid(pidfile);
        if (pid && n < sizeof pids / sizeof pids[0]) {
            kill(pid, SIGTERM);
            pids[n++] = pid;
        }
    }
    for (size_t s = 0; s < (size_t)ctl->cfg->replicas * ctl->cfg->partitions; s++) {
        const hb_slot_cfg_t *slot = &ctl->cfg->slots[s];
        if (!s_slot_is_local(slot))
            continue;
        for (int ri = S_NROLES - 1; ri >= 0; ri--) {
            char pidfile[PATH_MAX];
            s_node_file(ctl, slot, ri, "pid", pidfile, sizeof pidfile);
            pid_t pid = s_read_pid(pidfile);
            if (pid && n < sizeof pids / sizeof pids[0]) {
                kill(pid, SIGTERM);
                pids[n++] = pid;
            }
        }
    }
    for (int waited = 0; waited < 100; waited++) {
        size_t alive = 0;
        for (size_t i = 0; i < n; i++) {
            waitpid(pids[i], NULL, WNOHANG);
            if (pids[i] && kill(pids[i], 0) == 0)
                alive++;
            else
                pids[i] = 0;
        }
        if (!alive)
            break;
        s_sleep_ms(100);
    }
    for (size_t i = 0; i < n; i++)
        if (pids[i]) {
            fprintf(stderr, "hobbesctl: pid %d did not stop; killing it\n", (int)pids[i]);
            kill(pids[i], SIGKILL);
        }
    printf("cluster '%s' is down (%zu process(es) stopped)\n", ctl->cfg->name, n);
    return 0;
}

static void
s_field(const char *text, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "-");
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t len = (size_t)((eol ? eol : p + strlen(p)) - (p + nl + 1));
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, p + nl + 1, len);
            out[len] = '\0';
            return;
        }
        p = eol ? eol + 1 : NULL;
    }
}

static int s_verbose;

static long long
s_field_ll(const char *text, const char *name)
{
    char v[32];
    s_field(text, name, v, sizeof v);
    return strcmp(v, "-") ? strtoll(v, NULL, 10) : -1;
}

/* Prints, per Paxos group, its leader, consensus latency (proposed ->
 * chosen, at the leader), leader changes, and each replica's lag: chosen
 * slots behind the most advanced replica of the group. */
static void
s_status_groups(s_ctl_t *ctl, hb_client_t *client)
{
    uint16_t R = ctl->cfg->replicas;
    printf("\n%-6s %-7s %-14s %-14s %-8s %s\n", "group", "leader", "consensus_p50",
           "consensus_p99", "changes", "replica: slot (lag)");
    for (uint16_t g = 0; g < ctl->cfg->partitions; g++) {
        long long slot[16], leader = -1, p50 = -1, p99 = -1, changes = 0, top = -1;
        for (uint16_t r = 0; r < R && r < 16; r++) {
            char *text = NULL;
            slot[r] = -1;
            if (hb_client_status(client, HB_ROLE_SEQUENCER, r, g, 500, &text) != HB_OK)
                continue;
            slot[r] = s_field_ll(text, "paxos_chosen_end");
            if (slot[r] > top)
                top = slot[r];
            long long ch = s_field_ll(text, "leader_changes");
            if (ch > changes)
                changes = ch;
            if (s_field_ll(text, "leading") == 1) {
                leader = r;
                p50 = s_field_ll(text, "consensus_p50_us");
                p99 = s_field_ll(text, "consensus_p99_us");
            } else if (leader < 0 && s_field_ll(text, "leader") >= 0) {
                leader = s_field_ll(text, "leader");
            }
            free(text);
        }
        char l[16] = "none", a[24] = "-", b[24] = "-";
        if (leader >= 0)
            snprintf(l, sizeof l, "r%lld", leader);
        if (p50 >= 0)
            snprintf(a, sizeof a, "%.2f ms", (double)p50 / 1000.0);
        if (p99 >= 0)
            snprintf(b, sizeof b, "%.2f ms", (double)p99 / 1000.0);
        printf("%-6u %-7s %-14s %-14s %-8lld", g, l, a, b, changes);
        for (uint16_t r = 0; r < R && r < 16; r++) {
            if (slot[r] < 0)
                printf("  r%u: DOWN", r);
            else
                printf("  r%u: %lld (%lld)", r, slot[r], top - slot[r]);
        }
        printf("\n");
    }
}

/* Prints one line per sqlfront (id, replica, pid, up/DOWN, endpoint), then
 * the other fields of its STATUS: wrapped on indented lines, or one per
 * line with --verbose. Returns how many are down. */
static int
s_status_sqlfronts(s_ctl_t *ctl, hb_client_t *client)
{
    int down = 0;
    if (!ctl->cfg->nsqlfronts)
        return 0;
    printf("\n%-10s %-7s %-8s %-6s %s\n", "sqlfront", "replica", "pid", "state",
           "endpoint");
    for (uint16_t i = 0; i < ctl->cfg->nsqlfronts; i++) {
        const hb_sqlfront_cfg_t *f = &ctl->cfg->sqlfronts[i];
        char *text = NULL, pid[32] = "-";
        int up = hb_client_status(client, HB_ROLE_SQLFRONT, f->replica, f->id, 500,
                                  &text) == HB_OK;
        if (up)
            s_field(text, "pid", pid, sizeof pid);
        else
            down++;
        printf("%-10u r%-6u %-8s %-6s %s\n", f->id, f->replica, pid, up ? "up" : "DOWN",
               f->endpoint);
        int col = 0;
        for (char *line = text ? strtok(text, "\n") : NULL; line;
             line = strtok(NULL, "\n")) {
            if (strncmp(line, "pid=", 4) == 0)
                continue;
            int len = (int)strlen(line);
            if (s_verbose) {
                printf("    %s\n", line);
            } else {
                if (col && col + 1 + len > 90) {
                    printf("\n");
                    col = 0;
                }
                col += printf("%s%s", col ? " " : "    ", line);
            }
        }
        if (col)
            printf("\n");
        free(text);
    }
    return down;
}

static int
s_status(s_ctl_t *ctl, hb_client_t *client)
{
    int down = 0;
    printf("%-10s %-5s %-8s %-6s %-14s %-14s %-18s\n", "process", "slot", "pid", "state",
           "epoch", "applied", "state_hash");
    for (size_t s = 0; s < (size_t)ctl->cfg->replicas * ctl->cfg->partitions; s++) {
        const hb_slot_cfg_t *slot = &ctl->cfg->slots[s];
        for (int ri = S_NROLES - 1; ri >= 0; ri--) {
            char *text = NULL;
            char slotname[16], pid[32] = "-", epoch[32] = "-", applied[32] = "-",
                               hash[32] = "-";
            snprintf(slotname, sizeof slotname, "r%up%u", slot->replica, slot->partition);
            int up = hb_client_status(client, s_role_ids[ri], slot->replica,
                                      slot->partition, 500, &text) == HB_OK;
            if (up) {
                s_field(text, "pid", pid, sizeof pid);
                s_field(text, "epoch", epoch, sizeof epoch);
                s_field(text, "applied_epoch", applied, sizeof applied);
                s_field(text, "state_hash", hash, sizeof hash);
            } else {
                down++;
            }
            printf("%-10s %-5s %-8s %-6s %-14s %-14s %-18s\n", s_roles[ri], slotname, pid,
                   up ? "up" : "DOWN", epoch, applied, hash);
            if (s_verbose && text)
                for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                    printf("    %s\n", line);
            free(text);
        }
    }
    s_status_groups(ctl, client);
    down += s_status_sqlfronts(ctl, client);
    return down ? 1 : 0;
}

/* Reads one storage's applied epoch and state hash. Returns 0 or -1. */
static int
s_storage_state(hb_client_t *client, uint16_t r, uint16_t p, unsigned long long *epoch,
                char *hash, size_t hashlen)
{
    char *text = NULL, ep[32];
    if (hb_client_status(client, HB_ROLE_STORAGE, r, p, 1000, &text) != HB_OK)
        return -1;
    s_field(text, "applied_epoch", ep, sizeof ep);
    s_field(text, "state_hash", hash, hashlen);
    free(text);
    *epoch = strtoull(ep, NULL, 10);
    return 0;
}

/* verify: for every partition, every replica's storage must report the
 * same state hash at the same applied epoch. Replicas apply epochs at their
 * own pace, so each partition is sampled until all its replicas stand at
 * one epoch (up to 10 s). Exit 0 when all agree, 1 on a mismatch or when a
 * storage does not answer. */
static int
s_verify(s_ctl_t *ctl, hb_client_t *client)
{
    int bad = 0;
    uint16_t R = ctl->cfg->replicas;
    for (uint16_t p = 0; p < ctl->cfg->partitions; p++) {
        unsigned long long epochs[16];
        char hashes[16][32];
        int settled = 0;
        for (int attempt = 0; attempt < 200 && !settled && !s_interrupted; attempt++) {
            settled = 1;
            for (uint16_t r = 0; r < R && settled; r++)
                if (s_storage_state(client, r, p, &epochs[r], hashes[r],
                                    sizeof hashes[r]) < 0)
                    settled = -1;
            if (settled < 0)
                break;
            for (uint16_t r = 1; r < R; r++)
                if (epochs[r] != epochs[0])
                    settled = 0;
            if (!settled)
                s_sleep_ms(50);
        }
        if (settled < 0) {
            printf("p%u: a storage does not answer\n", p);
            bad = 1;
            continue;
        }
        if (!settled) {
            printf("p%u: replicas never stood at one applied epoch\n", p);
            bad = 1;
            continue;
        }
        int same = 1;
        for (uint16_t r = 1; r < R; r++)
            same &= strcmp(hashes[r], hashes[0]) == 0;
        printf("p%u: applied epoch %llu, %u replica(s), state hash %s%s\n", p, epochs[0],
               R, hashes[0], same ? (R > 1 ? ": all agree" : "") : ": MISMATCH");
        if (!same) {
            for (uint16_t r = 0; r < R; r++)
                printf("    r%u: %s\n", r, hashes[r]);
            bad = 1;
        }
    }
    return bad;
}

static void
s_usage(void)
{
    fprintf(stderr,
            "usage: hobbesctl up|down|status|verify|run --config FILE [--data DIR] "
            "[--verbose]\n"
            "       status --verbose prints every counter of every process\n");
}

int
main(int argc, char **argv)
{
    const char *config = getenv("HOBBES_CONFIG"), *data = NULL;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2) {
        s_usage();
        return 2;
    }
    const char *cmd = argv[1];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:d:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'v':
            s_verbose = 1;
            break;
        default:
            s_usage();
            return 2;
        }
    }
    if (!config || optind != argc) {
        s_usage();
        return 2;
    }
    s_ctl_t ctl = {0};
    char err[512];
    if (hb_config_load(config, &ctl.cfg, err, sizeof err) != HB_OK) {
        fprintf(stderr, "hobbesctl: %s\n", err);
        return 2;
    }
    if (!realpath(config, ctl.config_abs)) {
        fprintf(stderr, "hobbesctl: %s: %s\n", config, strerror(errno));
        return 2;
    }
    const char *root = data ? data : ctl.cfg->data_dir;
    if (hb_mkdirs(root) < 0 || !realpath(root, ctl.data_abs)) {
        fprintf(stderr, "hobbesctl: cannot use data directory %s: %s\n", root,
                strerror(errno));
        return 1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(ctl.bindir, sizeof ctl.bindir, "%s", self);
    }
    hb_client_t *client = hb_client_new(config, 0, err, sizeof err);
    if (!client) {
        fprintf(stderr, "hobbesctl: %s\n", err);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc;
    if (strcmp(cmd, "up") == 0) {
        rc = s_up(&ctl, client);
    } else if (strcmp(cmd, "down") == 0) {
        rc = s_down(&ctl);
    } else if (strcmp(cmd, "status") == 0) {
        rc = s_status(&ctl, client);
    } else if (strcmp(cmd, "verify") == 0) {
        rc = ctl.cfg->replicas > 16 ? 2 : s_verify(&ctl, client);
    } else if (strcmp(cmd, "run") == 0) {
        rc = s_up(&ctl, client);
        if (rc == 0) {
            printf("\nConnect from another terminal:\n"
                   "  %s/hobbes-cli --config %s call kv.put a 41\n"
                   "  %s/hobbes-cli --config %s call kv.add a 1\n"
                   "  %s/hobbes-cli --config %s call kv.get a\n"
                   "Benchmark:\n"
                   "  %s/hobbes-bench micro --config %s --clients 8 --duration 10\n"
                   "Status:\n"
                   "  %s/hobbesctl status --config %s\n"
                   "Logs: %s/r*p*/*.log      Ctrl-C stops every process.\n",
                   ctl.bindir, config, ctl.bindir, config, ctl.bindir, config, ctl.bindir,
                   config, ctl.bindir, config, ctl.data_abs);
            if (ctl.cfg->nsqlfronts)
                printf("SQL shell:\n"
                       "  %s/hobbes-cli --config %s sql\n"
                       "Gateway logs: %s/sqlf*/sqlfront.log\n",
                       ctl.bindir, config, ctl.data_abs);
            for (uint16_t i = 0; i < ctl.cfg->nsqlfronts; i++) {
                const hb_sqlfront_cfg_t *f = &ctl.cfg->sqlfronts[i];
                const char *colon = strrchr(f->pg_listen, ':');
                if (!f->pg_listen[0] || !colon)
                    continue;
                printf("PostgreSQL clients (sqlfront %u):\n"
                       "  psql -h %.*s -p %s -U $USER hobbes\n"
                       "  pgbench -h %.*s -p %s -i -s 1 hobbes\n",
                       f->id, (int)(colon - f->pg_listen), f->pg_listen, colon + 1,
                       (int)(colon - f->pg_listen), f->pg_listen, colon + 1);
            }
            fflush(stdout);
            while (!s_interrupted) {
                waitpid(-1, NULL, WNOHANG);
                s_sleep_ms(200);
            }
            printf("\nstopping...\n");
        }
        s_down(&ctl);
    } else {
        s_usage();
        rc = 2;
    }
    hb_client_destroy(&client);
    hb_config_destroy(&ctl.cfg);
    return rc;
}
