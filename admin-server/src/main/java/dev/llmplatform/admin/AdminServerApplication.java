package dev.llmplatform.admin;

import de.codecentric.boot.admin.server.config.EnableAdminServer;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** The fleet dashboard: Spring Boot Admin over every service's Actuator, plus the registry's rollouts. */
@SpringBootApplication
@EnableAdminServer
@ConfigurationPropertiesScan
public class AdminServerApplication {
    public static void main(String[] args) {
        SpringApplication.run(AdminServerApplication.class, args);
    }
}
