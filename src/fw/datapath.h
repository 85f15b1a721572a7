/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The firewall's datapath: its maps, their generations and the switch
 * between them, the XDP attachment, the pins of a persistent firewall and
 * the lock every change to them takes, and reading the running state back.
 *
 * No CLI state and no printing: what a caller wants (interface, mode,
 * lookup, ...) comes in a struct vigil_fw_opts, and every failure comes
 * back as an exit code (VIGIL_EXIT_*) with its message in a struct
 * vigil_fw_msg. The one exception is the BPF object load, which reports the
 * verifier log through the core's loader (vigil_object_load()).
 *
 * A persistent firewall is built under VIGIL_FW_TMP_DIR/PID-IFACE and
 * published with one rename(2) to VIGIL_FW_PIN_DIR/IFACE: the directory
 * there is complete or absent (docs/firewall.md, "Half-made state").
 */
#ifndef VIGIL_FW_DATAPATH_H
#define VIGIL_FW_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>
#include "core/env.h"
#include "fw/rules.h"

#define VIGIL_FW_PIN_ROOT VIGIL_PIN_ROOT
#define VIGIL_FW_PIN_DIR VIGIL_FW_PIN_ROOT "/firewall"
/* loads in progress (or killed): PID-IFACE; bpffs allows no '.' in names */
#define VIGIL_FW_TMP_DIR VIGIL_FW_PIN_ROOT "/firewall_new"
#define VIGIL_FW_LOCK_DIR "/run/vigil"
#define VIGIL_FW_LOCK_PATH VIGIL_FW_LOCK_DIR "/firewall.lock"

enum vigil_fw_mode {
	VIGIL_FW_MODE_AUTO,	/* native, else generic */
	VIGIL_FW_MODE_NATIVE,
	VIGIL_FW_MODE_GENERIC,
};

struct vigil_fw_opts {
	const char *iface;
	uint32_t mode;		/* enum vigil_fw_mode */
	uint32_t lookup;	/* VIGIL_FW_LOOKUP_* */
	bool lookup_set;	/* reload: else the load's lookup stands */
	uint32_t sample;	/* one drop event per N drops per CPU; 0 none */
	bool persist, dry_run;
	/* persistent load: asked between steps until the firewall is
	 * published; true rolls everything back (e.g. a pending SIGINT) */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
};

#define VIGIL_FW_MSG_LEN 640

struct vigil_fw_msg {
	char err[VIGIL_FW_MSG_LEN];	/* set with a non-zero return; empty if already reported */
	char note[VIGIL_FW_MSG_LEN];	/* informational, maybe set on success */
};

/* a firewall this process holds: a foreground one, or a persistent one just loaded */
struct vigil_fw;

/*
 * Foreground: open the object (rodata from o), then let the caller load it
 * (the session does), then vigil_fw_start() fills generation 0 and attaches.
 * rules_path is recorded in the info map (absolute).
 */
int vigil_fw_open(const struct vigil_fw_opts *o, const char *rules_path, struct vigil_fw **out,
		  struct vigil_fw_msg *m);
struct bpf_object_skeleton *vigil_fw_skeleton(struct vigil_fw *fw);
int vigil_fw_start(struct vigil_fw *fw, struct vigil_rules *rs, struct vigil_fw_table *t,
		   struct vigil_fw_msg *m);
/* detaches a foreground firewall, keeping its maps: its queued events can still be read */
void vigil_fw_detach(struct vigil_fw *fw);
/* detaches a foreground firewall (a persistent one stays) and frees fw */
void vigil_fw_close(struct vigil_fw *fw);
const struct vigil_fw_info *vigil_fw_get_info(const struct vigil_fw *fw);

/*
 * Persistent load, all or nothing: under the lock, refuse a loaded or
 * half-made firewall on o->iface, remove what killed loads left, load,
 * fill, attach and pin under a temporary name, then publish it with one
 * rename. Any failure or o->cancelled() before that removes everything
 * (VIGIL_EXIT_FAIL; err "... interrupted ..." for a cancel). *out (may be
 * NULL) gets the loaded firewall for its info; close it with vigil_fw_close.
 */
int vigil_fw_load(const struct vigil_fw_opts *o, const char *rules_path, struct vigil_rules *rs,
		  struct vigil_fw_table *t, struct vigil_fw **out, struct vigil_fw_msg *m);

struct vigil_fw_reload_res {
	uint32_t nrules;	/* without the default */
	uint32_t lookup;	/* the lookup compiled with */
};

/*
 * Swap in the parsed rules rs in one step: compiled here with o->lookup, or
 * the load's when !o->lookup_set (so rs may gain "never matches" warnings
 * for the caller to print). The persistent firewall of o->iface, under the
 * lock; nothing here reads files or blocks under it.
 */
int vigil_fw_reload(const struct vigil_fw_opts *o, struct vigil_rules *rs,
		    struct vigil_fw_reload_res *res, struct vigil_fw_msg *m);
/* the same for a firewall this process holds (foreground --watch) */
int vigil_fw_reload_fw(struct vigil_fw *fw, const struct vigil_fw_opts *o, struct vigil_rules *rs,
		       struct vigil_fw_reload_res *res, struct vigil_fw_msg *m);

/*
 * Detach and unpin the persistent firewall of iface, whole or half-made,
 * and remove what loads killed on it left. VIGIL_EXIT_FAIL with "no
 * persistent firewall" when there is nothing.
 */
int vigil_fw_unload(const char *iface, struct vigil_fw_msg *m);

enum vigil_fw_state {
	VIGIL_FW_ST_OK,
	VIGIL_FW_ST_HALF,	/* pinned maps without a link: an interrupted load */
	VIGIL_FW_ST_OTHER,	/* maps of another vigil version */
	VIGIL_FW_ST_LOADING,	/* a load in progress (its lock is held) */
	VIGIL_FW_ST_LEFTOVER,	/* the temporary directory of a killed load */
	VIGIL_FW_ST_ERROR,	/* pinned but unreadable */
};

struct vigil_fw_rule_stat {
	uint32_t id;
	struct vigil_fw_rule r;
	struct vigil_fw_counter c;	/* summed over CPUs */
};

struct vigil_fw_status {
	char iface[64];
	uint32_t state;			/* enum vigil_fw_state */
	bool persistent;		/* pinned, else found by its XDP link */
	char problem[VIGIL_FW_MSG_LEN];	/* state != OK: what is wrong, what to do */
	struct vigil_fw_info info;
	struct vigil_fw_gen gen;	/* the active generation */
	struct vigil_fw_rule_stat *rules;	/* by id, the default (0) first */
	uint32_t nrules;
};

/*
 * Every firewall of this network namespace, or only iface's: persistent
 * ones from their pins (and half-made or leftover states), foreground ones
 * from vigil's XDP links. *n may be 0. Free with vigil_fw_status_free.
 */
int vigil_fw_status(const char *iface, struct vigil_fw_status **out, uint32_t *n,
		    struct vigil_fw_msg *m);
/* the state of a firewall this process holds, as one entry to free the same way */
int vigil_fw_status_of(struct vigil_fw *fw, struct vigil_fw_status **out, struct vigil_fw_msg *m);
void vigil_fw_status_free(struct vigil_fw_status *st, uint32_t n);

const char *vigil_fw_mode_name(uint32_t mode);	/* of vigil_fw_info.mode */

#endif
