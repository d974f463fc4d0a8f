/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A TCP connection to a guarded port and its record in sw_sessions
 * (maps/sessions.h): both sides' activity and how far the SMTP dialogue
 * went.
 */
#ifndef SMTPWALL_SESSIONS_H
#define SMTPWALL_SESSIONS_H

#include "smtpwall/common.h"

/* A TCP connection to a guarded port, seen from the client's side. */
struct sw_session_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;		/* network byte order */
	__u16 dport;		/* network byte order */
	__u8 family;
	__u8 pad[3];
};

/* sw_session.flags */
#define SW_SESS_HANDSHAKE (1U << 0) /* created by the ACK of a handshake admitted here: seen from the start */
#define SW_SESS_TLS	  (1U << 1) /* encrypted (STARTTLS done, or port 465): the dialogue is not read */
#define SW_SESS_BODY	  (1U << 2) /* the client sends message data (after 354, or BDAT) */
#define SW_SESS_PREGREET  (1U << 3) /* the client talked before the server's greeting */
#define SW_SESS_AUTH	  (1U << 4) /* an AUTH exchange is in progress */
#define SW_SESS_QUIT	  (1U << 5) /* the server answered QUIT */
#define SW_SESS_SRV_CLOSE (1U << 6) /* the server closed (FIN) or said 421 */
#define SW_SESS_COUNTED	  (1U << 7) /* completed/abandoned already counted for the source */
#define SW_SESS_BDAT	  (1U << 8) /* the data being sent is a BDAT chunk */
#define SW_SESS_BDAT_LAST (1U << 9) /* ... the last one of its message (BDAT n LAST) */
#define SW_SESS_PROBATION (1U << 10) /* opened on probation: an unproven source during an emergency */
#define SW_SESS_DOT	  (1U << 11) /* the message's final dot was sent: the server owes the reply */

/*
 * Message data counts as progress every SW_BODY_PROGRESS bytes: a slow
 * link uploading a large message progresses, a drip of a byte or two
 * every few seconds does not.
 */
#define SW_BODY_PROGRESS 1024

/*
 * SMTP phase: how far the dialogue went, from the client's commands and the
 * server's answers, while it is readable (before STARTTLS).
 */
enum sw_phase {
	SW_PH_CONNECTED = 0,	/* handshake done, no greeting yet */
	SW_PH_GREETED,		/* the server greeted; waiting for HELO/EHLO */
	SW_PH_HELO,		/* HELO/EHLO done */
	SW_PH_AUTH,		/* logged in */
	SW_PH_MAIL,		/* MAIL FROM accepted */
	SW_PH_RCPT,		/* a recipient accepted */
	SW_PH_DATA,		/* sending the message */
	SW_PH_DELIVERED,	/* a message accepted; may send another */
	SW_PH_QUIT,		/* QUIT answered, after HELO (a QUIT alone leaves the phase) */
	SW_PH_TLS,		/* encrypted: phase unknown from here */
	SW_PH_MAX
};

/* Client commands, queued until the server answers them (pipelining). */
enum sw_cmd {
	SW_CMD_OTHER = 0,
	SW_CMD_HELO,		/* HELO, EHLO, LHLO */
	SW_CMD_STARTTLS,
	SW_CMD_AUTH,
	SW_CMD_MAIL,
	SW_CMD_RCPT,
	SW_CMD_DATA,
	SW_CMD_BDAT,
	SW_CMD_RSET,
	SW_CMD_QUIT,
};

#define SW_CMDQ 16		/* commands awaiting a reply, per session */

/*
 * Created when the client's ACK completes the handshake (never on the SYN,
 * so half-open floods do not churn this table). The XDP program writes the
 * client's side, the tc egress program the server's; the program reads the
 * clock only for segments that carry data, so idleness is judged from
 * `last_client_ns` and `last_server_ns` by the daemon.
 */
struct sw_session {
	__u64 start_ns;
	__u64 packets;		/* from the client, including the creating ACK */
	__u64 bytes;
	__u64 last_client_ns;	/* last client segment with data; 0 = none yet */
	__u64 greeting_ns;	/* the server's greeting (its first data); 0 = not yet */
	__u64 last_server_ns;	/* last server segment with data */
	__u64 server_packets;
	__u64 server_bytes;
	__u32 flags;		/* SW_SESS_* */
	__u16 rcpt;		/* RCPT commands answered */
	__u16 rcpt_rejected;	/* ... with 5xx */
	__u16 messages;		/* messages accepted */
	__u16 errors;		/* other commands answered 5xx */
	__u8 phase;		/* enum sw_phase */
	__u8 auth_failed;
	__u8 cmd_head;		/* written by XDP: next free slot of cmdq */
	__u8 cmd_tail;		/* written by tc: next command to be answered */
	__u8 cmdq[SW_CMDQ];	/* enum sw_cmd */
	__u16 last_reply;	/* the server's last reply code */
	__u8 last_cmd_rcpt;	/* the last reply answered a RCPT */
	__u8 pad[5];
	/*
	 * The sequence number after the last data read from each side (0 =
	 * none yet): a retransmitted segment (the peer's ACK was lost, or
	 * dropped with a penalised source) is not read twice.
	 */
	__u32 client_next_seq;
	__u32 server_next_seq;
	/*
	 * Progress: the last time the dialogue advanced (see sw_progress in
	 * bpf/session.h): the greeting, a phase reached for the first
	 * time in the transaction, an accepted recipient, SW_BODY_PROGRESS
	 * bytes of message data, a message accepted; on an encrypted
	 * session, any new client data. NOOP, RSET, HELP, VRFY, a repeated
	 * HELO/EHLO and their replies are not progress.
	 */
	__u64 progress_ns;
	__u32 body_unprogressed; /* message bytes since the last body progress */
	__u8 phase_max;		/* the furthest phase of the current transaction */
	__u8 pad2[3];
};

#endif /* SMTPWALL_SESSIONS_H */
