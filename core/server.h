/* server.h - the master process and its FastCGI workers (prefix srv_).
 *
 * The master opens the unix socket (mode set explicitly), forks N workers,
 * respawns one that dies, replaces them one at a time on SIGHUP (new worker
 * ready before the old one is told to finish) and on SIGTERM lets every
 * worker finish its request in flight before exiting. Workers poll the shared
 * listening socket and accept with FCGX_Accept_r, so a stop or reload signal
 * is seen between requests, never in the middle of one. */
#ifndef PORTAL_SERVER_H
#define PORTAL_SERVER_H
#include "conf.h"

/* Run the master until SIGTERM/SIGINT. Returns the process exit status. */
int srv_run(conf *cf, const char *const *conf_paths, int nconf);

#endif
