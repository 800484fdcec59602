/*
 * http_worker.c: one thread for the REST calls that must wait on the
 * engine thread (engine_call): reading a board's elements and taking
 * snapshots. The service thread never blocks on them: it registers a
 * waiter (node_rest_register), queues a job and returns; the worker runs
 * the call, renders the whole answer (status + JSON) with the same reply
 * helpers into a scratch request, and hands it over with
 * node_rest_complete_reply, which wakes the service loop; http_conn.c then
 * writes it. A connection that closes first cancels its waiter and the
 * answer is dropped.
 *
 * The queue is bounded (HTTP_WORKER_QUEUE jobs): past it the request gets
 * 503 at once. http_worker_stop (server.c, after the loop) stops the thread;
 * jobs still queued are dropped (their connections are gone).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"
#include "wb_error.h"

#define HTTP_WORKER_QUEUE 64

static pthread_mutex_t hw_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hw_cond = PTHREAD_COND_INITIALIZER;
static http_job *hw_queue[HTTP_WORKER_QUEUE];
static size_t hw_head, hw_len;
static int hw_stop, hw_started;
static pthread_t hw_thread;

static void hw_run(node *n, http_job *j)
{
    http_req tmp;
    memset(&tmp, 0, sizeof tmp);
    j->fn(n, &tmp, j);
    if (!tmp.replied)
        http_error(&tmp, 500, "no answer");
    node_rest_complete_reply(n, j->token, tmp.status, tmp.resp,
                             tmp.resp_len);
}

static void *hw_main(void *arg)
{
    node *n = arg;
    pthread_mutex_lock(&hw_mu);
    for (;;) {
        while (!hw_stop && hw_len == 0)
            pthread_cond_wait(&hw_cond, &hw_mu);
        if (hw_stop)
            break;
        http_job *j = hw_queue[hw_head];
        hw_head = (hw_head + 1) % HTTP_WORKER_QUEUE;
        hw_len--;
        pthread_mutex_unlock(&hw_mu);
        hw_run(n, j);
        free(j);
        pthread_mutex_lock(&hw_mu);
    }
    while (hw_len) {
        free(hw_queue[hw_head]);
        hw_head = (hw_head + 1) % HTTP_WORKER_QUEUE;
        hw_len--;
    }
    pthread_mutex_unlock(&hw_mu);
    return NULL;
}

int http_worker_start(node *n)
{
    hw_stop = 0;
    if (pthread_create(&hw_thread, NULL, hw_main, n) != 0)
        return WB_ENOMEM;
    hw_started = 1;
    return 0;
}

void http_worker_stop(void)
{
    if (!hw_started)
        return;
    pthread_mutex_lock(&hw_mu);
    hw_stop = 1;
    pthread_cond_signal(&hw_cond);
    pthread_mutex_unlock(&hw_mu);
    pthread_join(hw_thread, NULL);
    hw_started = 0;
}

void http_worker_submit(node *n, http_req *r, http_job *job)
{
    if (!hw_started || node_rest_register(n, &job->token) != 0) {
        free(job);
        http_error(r, 503, "worker unavailable, retry");
        return;
    }
    uint64_t token = job->token;
    pthread_mutex_lock(&hw_mu);
    int full = hw_len == HTTP_WORKER_QUEUE;
    if (!full) {
        hw_queue[(hw_head + hw_len) % HTTP_WORKER_QUEUE] = job;
        hw_len++;
        pthread_cond_signal(&hw_cond);
    }
    pthread_mutex_unlock(&hw_mu);
    if (full) {
        free(job);
        node_rest_cancel(n, token);
        snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
        http_error(r, 503, "too many requests in progress, retry");
        return;
    }
    r->token = token;
    r->job = 1;
    http_wait_start(r);
}
