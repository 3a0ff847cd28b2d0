/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Where a notifier's URL comes from, and how it may be shown.
 *
 * A chat webhook URL is a bearer secret: whoever has it can post to the channel. The rule file only says
 * where the URL lives (url: literal, url_file: PATH whose first line is the URL, url_credential: NAME
 * under $CREDENTIALS_DIRECTORY, i.e. systemd's LoadCredential=). Nothing here ever puts the URL into an
 * error message. What may be shown is the redacted form "scheme://host[:port]/…": scheme, host and port
 * are kept (they say which service is meant and are rarely secret), user info, path, query and fragment —
 * where Slack, Discord, Mattermost and Teams put their tokens — are replaced by "…".
 */
#pragma once

#include "rules.h"

/* The longest URL accepted (bytes). Real webhook URLs are < 1 KiB; Teams workflow URLs carry a
 * signature in the query and stay < 2 KiB. */
#define NOTIFIER_URL_MAX 4096

/* Resolve cfg's URL. credentials_dir overrides $CREDENTIALS_DIRECTORY (for tests and for callers that
 * already looked it up); NULL means read the environment. On failure returns a negative errno and, if
 * ret_error is not NULL, a message for humans that names the source (the credential name, the file path)
 * and never contains the URL or any part of it:
 *   -ENOENT   credential NAME / url_file PATH does not exist
 *   -ENXIO    $CREDENTIALS_DIRECTORY is not set (no LoadCredential= for the unit)
 *   -EINVAL   the value is not an acceptable http(s) URL, the file's first line is empty, bad name
 *   -EFBIG    the file is too large to be a URL
 *   other     reading the file failed */
int notifier_url_resolve(const NotifierConfig *cfg, const char *credentials_dir, char **ret_url, char **ret_error);

/* Check a URL: http or https, a host, no whitespace or control characters, at most NOTIFIER_URL_MAX
 * bytes. On failure *ret_reason (static string, may be NULL) says what is wrong without quoting it. */
int notifier_url_check(const char *url, const char **ret_reason);

/* The loggable form: "https://hooks.slack.com/…", "http://127.0.0.1:9093" (nothing after the authority),
 * "http://[::1]:8080/…". An unparsable URL gives "(invalid URL)". Never fails except -ENOMEM. */
int notifier_url_redact(const char *url, char **ret);

/* The URL to POST to for a kind: for alertmanager the configured URL is Alertmanager's base URL (as in
 * Prometheus' alertmanager_config, e.g. http://am:9093 or http://host/alertmanager) and the API path
 * /api/v2/alerts is appended unless already there; every other kind posts to the URL itself. */
int notifier_url_endpoint(NotifierKind kind, const char *url, char **ret);

/* Whether a credential name is acceptable: non-empty, no "/", not "." or "..", at most 255 bytes. */
bool notifier_credential_name_is_valid(const char *name);
