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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  wake = PTHREAD_COND_INITIALIZER;
static GQueue          jobs = G_QUEUE_INIT;
static guint           n_threads;
static guint           n_idle;
static guint           max_threads;

static guint
default_max_threads (void)
{
  return MAX (4, 2 * g_get_num_processors ());
}

static gpointer
worker_main (gpointer unused)
{
  pthread_mutex_lock (&lock);
  for (;;)
    {
      Job *job;

      while (g_queue_is_empty (&jobs))
        {
          struct timespec deadline;
          int res;

          clock_gettime (CLOCK_REALTIME, &deadline);
          deadline.tv_sec += IDLE_SECONDS;
          n_idle++;
          res = pthread_cond_timedwait (&wake, &lock, &deadline);
          n_idle--;
          if (res == ETIMEDOUT && g_queue_is_empty (&jobs))
            {
              n_threads--;
              pthread_mutex_unlock (&lock);
              return NULL;
            }
        }

      job = g_queue_pop_head (&jobs);
      pthread_mutex_unlock (&lock);
      job->func (job->data);
      g_free (job);
      pthread_mutex_lock (&lock);
    }
}

void
gbridge_worker_pool_push (GbridgeWorkFunc func,
                          gpointer        data)
{
  Job *job = g_new (Job, 1);
  gboolean spawn;

  job->func = func;
  job->data = data;

  pthread_mutex_lock (&lock);
  if (max_threads == 0)
    max_threads = default_max_threads ();
  g_queue_push_tail (&jobs, job);
  spawn = n_idle < jobs.length && n_threads < max_threads;
  if (spawn)
    n_threads++;
  else
    pthread_cond_signal (&wake);
  pthread_mutex_unlock (&lock);

  if (spawn)
    {
      g_autoptr(GError) error = NULL;
      GThread *thread = g_thread_try_new ("gbridge-worker", worker_main, NULL, &error);

      if (thread != NULL)
        g_thread_unref (thread);
      else
        {
          /* The job waits for a running worker; with none, run it here
           * rather than lose it. */
          gboolean none;

          g_warning ("Could not start a worker thread: %s", error->message);
          pthread_mutex_lock (&lock);
          n_threads--;
          none = n_threads == 0 && g_queue_remove (&jobs, job);
          pthread_mutex_unlock (&lock);
          if (none)
            {
              func (data);
              g_free (job);
            }
        }
    }
}

void
gbridge_worker_pool_set_max_threads (guint max)
{
  g_return_if_fail (max > 0);

  pthread_mutex_lock (&lock);
  max_threads = max;
  pthread_mutex_unlock (&lock);
}

guint
gbridge_worker_pool_get_max_threads (void)
{
  guint max;

  pthread_mutex_lock (&lock);
  if (max_threads == 0)
    max_threads = default_max_threads ();
  max = max_threads;
  pthread_mutex_unlock (&lock);
  return max;
}
