package dev.llmplatform.admin.web;

import org.springframework.context.annotation.Configuration;
import org.springframework.http.CacheControl;
import org.springframework.web.servlet.config.annotation.ResourceHandlerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Serves our dashboard pages (the Rollouts and LLM metrics views, shown by Spring Boot Admin in iframes) at
 * {@code /fleet/*} from {@code classpath:/fleet-ui/}. Spring Boot Admin maps {@code /**} to its own UI, which hides
 * Boot's usual {@code static/} folder, hence a handler of our own with a more specific pattern.
 */
@Configuration(proxyBeanMethods = false)
class FleetPagesConfiguration implements WebMvcConfigurer {
    @Override
    public void addResourceHandlers(ResourceHandlerRegistry registry) {
        registry.addResourceHandler("/fleet/*.html", "/fleet/*.css")
                .addResourceLocations("classpath:/fleet-ui/")
                // Small files that change with each release: always revalidate rather than serve a stale view.
                .setCacheControl(CacheControl.noCache());
    }
}
