package dev.llmplatform.registry;

/** The concurrency guarantees on the default embedded H2 database. */
class H2ConcurrencyTest extends ConcurrencyBehaviour {
}
