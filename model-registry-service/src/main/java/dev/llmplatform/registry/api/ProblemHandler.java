package dev.llmplatform.registry.api;

import dev.llmplatform.engine.manifest.ManifestException;
import dev.llmplatform.registry.problem.RegistryProblem;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.nio.file.NoSuchFileException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Every error as an RFC 9457 problem detail ({@code application/problem+json}) whose {@code type} is stable
 * ({@code urn:llm-registry:...}) and whose {@code detail} names what is wrong. Spring MVC's own errors (unreadable
 * JSON, a missing parameter, a wrong method) come through the base class in the same shape.
 */
@RestControllerAdvice
class ProblemHandler extends ResponseEntityExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);

    @ExceptionHandler(RegistryProblem.class)
    ResponseEntity<ProblemDetail> registryProblem(RegistryProblem p, HttpServletRequest request) {
        ProblemDetail pd = problem(p.status(), p.type(), p.title(), p.getMessage(), request);
        p.properties().forEach(pd::setProperty);
        return respond(pd);
    }

    @ExceptionHandler(ManifestException.class)
    ResponseEntity<ProblemDetail> manifest(ManifestException e, HttpServletRequest request) {
        return respond(problem(HttpStatus.BAD_REQUEST, "invalid-manifest", "Invalid request", e.getMessage(), request));
    }

    @ExceptionHandler(TransientDataAccessException.class)
    ResponseEntity<ProblemDetail> concurrent(TransientDataAccessException e, HttpServletRequest request) {
        return respond(problem(HttpStatus.CONFLICT, "concurrent-update", "Conflict",
                "a concurrent request changed the same data; nothing was written, retry", request));
    }

    @ExceptionHandler(DataIntegrityViolationException.class)
    ResponseEntity<ProblemDetail> integrity(DataIntegrityViolationException e, HttpServletRequest request) {
        log.warn("refused by the database: {}", e.getMostSpecificCause().toString());
        return respond(problem(HttpStatus.CONFLICT, "concurrent-update", "Conflict",
                "the change conflicts with data written concurrently; nothing was written, retry", request));
    }

    @ExceptionHandler(NoSuchFileException.class)
    ResponseEntity<ProblemDetail> missingBlob(NoSuchFileException e, HttpServletRequest request) {
        log.error("MISSING BLOB {} for {}", e.getMessage(), request.getRequestURI());
        return respond(problem(HttpStatus.INTERNAL_SERVER_ERROR, "blob-missing", "Stored file missing",
                "the registry's storage has lost a file of this version; an operator must restore it", request));
    }

    @Override
    protected ResponseEntity<Object> handleMethodArgumentNotValid(MethodArgumentNotValidException e, HttpHeaders headers,
                                                                  HttpStatusCode status, WebRequest request) {
        String detail = e.getBindingResult().getFieldErrors().stream()
                .map(f -> f.getField() + " " + f.getDefaultMessage() + " (got " + f.getRejectedValue() + ")")
                .collect(Collectors.joining("; "));
        ProblemDetail pd = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, detail.isEmpty() ? "invalid request body" : detail);
        pd.setType(URI.create("urn:llm-registry:invalid-request"));
        pd.setTitle("Invalid request");
        return ResponseEntity.badRequest().contentType(MediaType.APPLICATION_PROBLEM_JSON).body(pd);
    }

    private static ProblemDetail problem(HttpStatus status, String slug, String title, String detail, HttpServletRequest request) {
        return problem(status, URI.create("urn:llm-registry:" + slug), title, detail, request);
    }

    private static ProblemDetail problem(HttpStatus status, URI type, String title, String detail, HttpServletRequest request) {
        ProblemDetail pd = ProblemDetail.forStatusAndDetail(status, detail);
        pd.setType(type);
        pd.setTitle(title);
        pd.setInstance(URI.create(request.getRequestURI()));
        return pd;
    }

    private static ResponseEntity<ProblemDetail> respond(ProblemDetail pd) {
        return ResponseEntity.status(pd.getStatus()).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(pd);
    }
}
