/* gbridge-worker-pool.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-worker-pool-private.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* How long an idle worker waits for a job before it exits. */
#define IDLE_SECONDS 15

typedef struct
{
  GbridgeWorkFunc func;
  gpointer        data;
} Job;

struct _GbridgeWorkerPool
{
  pthread_mutex_t lock;
  pthread_cond_t  wake;      /* a job was pushed, or the pool is closing */
  pthread_cond_t  finished;  /* a worker exited */
  GQueue          jobs;
  guint           n_threads;
  guint           n_idle;
  guint           max_threads;
  gboolean        closing;
};

GbridgeWorkerPool *
_gbridge_worker_pool_new (guint max_threads)
{
  GbridgeWorkerPool *pool = g_new0 (GbridgeWorkerPool, 1);

  g_return_val_if_fail (max_threads > 0, NULL);

  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->wake, NULL);
  pthread_cond_init (&pool->finished, NULL);
  g_queue_init (&pool->jobs);
  pool->max_threads = max_threads;
  return pool;
}

/* Runs the jobs still queued, waits for the workers to exit, and frees the
 * pool. Not from one of its own workers. */
void
_gbridge_worker_pool_free (GbridgeWorkerPool *pool)
{
  pthread_mutex_lock (&pool->lock);
  pool->closing = TRUE;
  pthread_cond_broadcast (&pool->wake);
  while (pool->n_threads > 0)
    pthread_cond_wait (&pool->finished, &pool->lock);
  pthread_mutex_unlock (&pool->lock);

  g_assert (g_queue_is_empty (&pool->jobs));
  pthread_cond_destroy (&pool->finished);
  pthread_cond_destroy (&pool->wake);
  pthread_mutex_destroy (&pool->lock);
  g_free (pool);
}

/* The process-wide pool, shared by every loop: never freed. */
GbridgeWorkerPool *
_gbridge_worker_pool_get_default (void)
{
  static GbridgeWorkerPool *pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, _gbridge_worker_pool_new (MAX (4, 2 * g_get_num_processors ())));
  return pool;
}

static gpointer
worker_main (gpointer data)
{
  GbridgeWorkerPool *pool = data;

  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      Job *job;

      while (g_queue_is_empty (&pool->jobs))
        {
          struct timespec deadline;
          int res;

          if (pool->closing)
            goto out;

          clock_gettime (CLOCK_REALTIME, &deadline);
          deadline.tv_sec += IDLE_SECONDS;
          pool->n_idle++;
          res = pthread_cond_timedwait (&pool->wake, &pool->lock, &deadline);
          pool->n_idle--;
          if (res == ETIMEDOUT && g_queue_is_empty (&pool->jobs))
            goto out;
        }

      job = g_queue_pop_head (&pool->jobs);
      pthread_mutex_unlock (&pool->lock);
      job->func (job->data);
      g_free (job);
      pthread_mutex_lock (&pool->lock);
    }

out:
  pool->n_threads--;
  pthread_cond_broadcast (&pool->finished);
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

void
_gbridge_worker_pool_push (GbridgeWorkerPool *pool,
                           GbridgeWorkFunc    func,
                           gpointer           data)
{
  Job *job = g_new (Job, 1);
  gboolean spawn;

  job->func = func;
  job->data = data;

  pthread_mutex_lock (&pool->lock);
  g_queue_push_tail (&pool->jobs, job);
  spawn = pool->n_idle < pool->jobs.length && pool->n_threads < pool->max_threads;
  if (spawn)
    pool->n_threads++;
  else
    pthread_cond_signal (&pool->wake);
  pthread_mutex_unlock (&pool->lock);

  if (spawn)
    {
      g_autoptr(GError) error = NULL;
      GThread *thread = g_thread_try_new ("gbridge-worker", worker_main, pool, &error);

      if (thread != NULL)
        g_thread_unref (thread);
      else
        {
          /* The job waits for a running worker; with none, run it here
           * rather than lose it. */
          gboolean none;

          g_warning ("Could not start a worker thread: %s", error->message);
          pthread_mutex_lock (&pool->lock);
          pool->n_threads--;
          none = pool->n_threads == 0 && g_queue_remove (&pool->jobs, job);
          pthread_cond_broadcast (&pool->finished);
          pthread_mutex_unlock (&pool->lock);
          if (none)
            {
              func (data);
              g_free (job);
            }
        }
    }
}

void
_gbridge_worker_pool_set_max_threads (GbridgeWorkerPool *pool,
                                      guint              max_threads)
{
  g_return_if_fail (max_threads > 0);

  pthread_mutex_lock (&pool->lock);
  pool->max_threads = max_threads;
  pthread_mutex_unlock (&pool->lock);
}
