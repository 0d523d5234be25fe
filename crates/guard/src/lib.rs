//! The confidentiality guard for outbound SMS and e-mail (being written; see the guard issue).
