package dev.llmplatform.registry;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.scheduling.annotation.EnableScheduling;

/**
 * The model registry: the record of which built engines exist (immutable numbered versions with their files and
 * manifests) and which one serves each model (stable, canary and its share of traffic).
 *
 * <pre>
 * api/       REST controllers under /v1/registry, problem details, SSE
 * artifact/  uploads (stream, verify, commit), downloads (ranges, digests), the janitor for abandoned uploads
 * blob/      where file bytes live: the local filesystem or S3
 * store/     the relational metadata (models, versions, files, uploads, rollouts, audit log)
 * rollout/   the rollout state machine, its service and the change feed
 * security/  bearer tokens: who may read, who may write
 * </pre>
 */
@SpringBootApplication
@ConfigurationPropertiesScan
@EnableScheduling
public class RegistryApplication {
    public static void main(String[] args) {
        SpringApplication.run(RegistryApplication.class, args);
    }
}
