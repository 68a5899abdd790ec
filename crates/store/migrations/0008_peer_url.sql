-- Where a peer is (issue 6): the base URL of its domain, under which its
-- apps are served as <app>.<domain>. Apps with `peers:call` reach the same
-- app there through the core; a peer without one can still call in.
ALTER TABLE peers ADD COLUMN url TEXT;
