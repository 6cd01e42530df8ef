package dev.llmplatform.gateway.api;

import org.springframework.core.Ordered;

/** The order of the gateway's web filters: key check, then body, then rate limits, then Spring Cloud Gateway. */
public final class FilterOrder {
    public static final int AUTH = Ordered.HIGHEST_PRECEDENCE + 100;
    public static final int AFTER_AUTH = AUTH + 10;
    public static final int ADMISSION = AUTH + 20;

    private FilterOrder() {
    }
}
