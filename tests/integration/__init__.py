"""The CA service as a real process on 127.0.0.1, and relying parties (openssl) nobody here wrote."""
