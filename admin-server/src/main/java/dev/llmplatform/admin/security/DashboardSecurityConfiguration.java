package dev.llmplatform.admin.security;

import de.codecentric.boot.admin.server.config.AdminServerProperties;
import dev.llmplatform.admin.config.AdminProperties;
import jakarta.servlet.DispatcherType;
import java.util.regex.Pattern;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.core.userdetails.UserDetailsService;
import org.springframework.security.provisioning.InMemoryUserDetailsManager;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.SavedRequestAwareAuthenticationSuccessHandler;
import org.springframework.security.web.csrf.CookieCsrfTokenRepository;
import org.springframework.security.web.csrf.CsrfTokenRequestAttributeHandler;
import org.springframework.security.web.servlet.util.matcher.PathPatternRequestMatcher;

/**
 * Who may use the dashboard. Off by default (local development: everything open). With
 * {@code llm.admin.security.enabled=true} one configured user signs in through Spring Boot Admin's login page or with
 * HTTP basic (scripts); only the static assets the login page needs and the dashboard's own health probes stay open.
 * Either way our views are shown in Spring Boot Admin's iframes, so pages may be framed by the same origin.
 */
@Configuration(proxyBeanMethods = false)
class DashboardSecurityConfiguration {
    private static final Pattern ENCODED = Pattern.compile("\\{[a-zA-Z0-9_-]+}");

    @Bean
    SecurityFilterChain dashboardSecurity(HttpSecurity http, AdminProperties properties, AdminServerProperties admin)
            throws Exception {
        http.headers(headers -> headers.frameOptions(frame -> frame.sameOrigin()));
        if (!properties.security().enabled()) {
            // Nothing to protect against cross-site requests when there is no session to ride on.
            return http.authorizeHttpRequests(auth -> auth.anyRequest().permitAll())
                    .csrf(csrf -> csrf.disable())
                    .build();
        }
        String base = admin.getContextPath();
        PathPatternRequestMatcher.Builder path = PathPatternRequestMatcher.withDefaults();
        SavedRequestAwareAuthenticationSuccessHandler toRequestedPage = new SavedRequestAwareAuthenticationSuccessHandler();
        toRequestedPage.setTargetUrlParameter("redirectTo");
        toRequestedPage.setDefaultTargetUrl(base + "/");
        return http
                .authorizeHttpRequests(auth -> auth
                        .requestMatchers(path.matcher(base + "/assets/**")).permitAll()
                        .requestMatchers(path.matcher(base + "/login")).permitAll()
                        .requestMatchers(path.matcher("/actuator/health/**"), path.matcher("/actuator/health")).permitAll()
                        .requestMatchers(path.matcher("/error")).permitAll()
                        // Server-sent events and proxied calls complete on async dispatches of an already checked request.
                        .dispatcherTypeMatchers(DispatcherType.ASYNC).permitAll()
                        .anyRequest().authenticated())
                .formLogin(form -> form.loginPage(base + "/login").successHandler(toRequestedPage))
                .logout(logout -> logout.logoutUrl(base + "/logout"))
                .httpBasic(Customizer.withDefaults())
                // Spring Boot Admin's UI sends the XSRF-TOKEN cookie's value back as it is, as the X-XSRF-TOKEN
                // header and as the _csrf field of its logout form: so the raw token (not the masked one of csrf.spa()),
                // loaded on every request so that the cookie is always there. Registration calls from Spring Boot Admin
                // clients (if a service is ever set up to push itself) carry no browser session.
                .csrf(csrf -> csrf
                        .csrfTokenRepository(CookieCsrfTokenRepository.withHttpOnlyFalse())
                        .csrfTokenRequestHandler(rawTokenLoadedEagerly())
                        .ignoringRequestMatchers(
                                path.matcher(HttpMethod.POST, base + "/instances"),
                                path.matcher(HttpMethod.DELETE, base + "/instances/*"),
                                path.matcher("/actuator/**")))
                .build();
    }

    private static CsrfTokenRequestAttributeHandler rawTokenLoadedEagerly() {
        CsrfTokenRequestAttributeHandler handler = new CsrfTokenRequestAttributeHandler();
        // No request attribute name: Spring Security then loads (and so writes the cookie of) the token on every request.
        handler.setCsrfRequestAttributeName(null);
        return handler;
    }

    @Bean
    UserDetailsService dashboardUser(AdminProperties properties) {
        AdminProperties.Security security = properties.security();
        if (!security.enabled()) {
            // No user at all: Boot would otherwise generate one and log its password.
            return new InMemoryUserDetailsManager();
        }
        // "{bcrypt}$2a$..." and the like are already encoded; anything else is the password itself.
        String password = ENCODED.matcher(security.password()).lookingAt() ? security.password() : "{noop}" + security.password();
        return new InMemoryUserDetailsManager(
                User.withUsername(security.username()).password(password).roles("ADMIN").build());
    }
}
