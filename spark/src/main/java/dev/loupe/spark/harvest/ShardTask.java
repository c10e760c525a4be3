package dev.loupe.spark.harvest;

import dev.loupe.store.corpus.Chunker;
import java.io.Serializable;

/**
 * One task of a distributed harvest: shard {@code shard}, its {@code sequences} sequences from
 * {@code firstSequence} on, whose chunking starts at {@code start} in the corpus.
 */
public record ShardTask(int shard, long firstSequence, int sequences, Chunker.Position start) implements Serializable {}
