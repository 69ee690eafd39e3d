"""Versioned catalogues on the compacted rules topic: publish, history, rollback, and the
follower that lets a running worker take a new catalogue between two batches."""
