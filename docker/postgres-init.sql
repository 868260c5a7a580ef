-- The application database (requests, drafts, audit trail), beside the conversations one.
CREATE DATABASE app OWNER mds;
