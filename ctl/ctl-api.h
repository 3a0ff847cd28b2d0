/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatctl's client verbs that talk to a running homeostatd over its HTTP API on the unix socket
 * (--api unix:PATH, default /run/homeostat/api.sock): `status [--json]` and `reload [--json]`.
 */
#pragma once

#include "ctl.h"

int ctl_status(int argc, char *argv[], const CtlGlobals *g);
int ctl_reload(int argc, char *argv[], const CtlGlobals *g);

/* Perform one request against the daemon: method, path, optional JSON body. On success (any HTTP status)
 * returns 0 with the status in *ret_status and the body (NUL-terminated, malloc'ed) in *ret_body. Returns
 * a negative errno, after printing a message naming the socket, when the daemon cannot be reached. Shared
 * with the incident verbs. */
int ctl_api_request(
        const CtlGlobals *g,
        const char *method,
        const char *path,
        const char *body,
        long *ret_status,
        char **ret_body);
