/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz what the haproxy action reads from HAProxy's runtime API: the `show servers state` parser, the
 * reading of a `set` command's answer, and the excerpt that quotes a peer's text in a result. The input's
 * first line names the server looked up ("backend/server"; also tried as a socket address, the other
 * place where a step's text turns into something we act on), the rest is the reply. A misbehaving or
 * hostile peer on the admin socket must get a clean failure, never a crash, a hang or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remediation-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *server = NULL, *error = NULL, *excerpt = NULL;
        const char *nl, *reply, *why = NULL;
        HaproxyServerState st;
        SockAddress addr;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        nl = memchr(text, '\n', size);
        server = strndup(text, nl ? (size_t) (nl - text) : size);
        if (!server)
                return 0;
        reply = nl ? nl + 1 : "";

        if (haproxy_parse_servers_state(reply, server, &st) == 0) {
                /* A server the parser found is one whose name the action would have accepted. */
                if (!strchr(server, '/'))
                        abort();
                (void) haproxy_state_name(haproxy_state_from_admin(st.admin_state));
        }
        (void) haproxy_server_name_valid(server);
        error = haproxy_reply_error(reply);
        excerpt = text_excerpt(text, size, 200);
        if (sock_address_parse(NULL, server, &addr, &why) < 0 && !why)
                abort();
        (void) sock_address_parse(server, NULL, &addr, &why);
        return 0;
}
