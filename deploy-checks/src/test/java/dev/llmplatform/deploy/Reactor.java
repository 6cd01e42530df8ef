package dev.llmplatform.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/** The Maven reactor as the poms declare it: the parent's modules and which of them each module depends on. */
final class Reactor {

    private Reactor() {
    }

    /** The modules the parent pom lists, in order. */
    static List<String> modules() {
        Document parent = parse("pom.xml");
        List<String> modules = new ArrayList<>();
        NodeList list = parent.getElementsByTagName("module");
        for (int i = 0; i < list.getLength(); i++) {
            modules.add(list.item(i).getTextContent().trim());
        }
        return modules;
    }

    /**
     * The reactor modules that {@code -pl module -am} builds besides the module: its dependencies on other modules,
     * in any scope (the test scope included, as Maven's -am does), transitively.
     */
    static Set<String> alsoMade(String module) {
        List<String> modules = modules();
        Set<String> seen = new LinkedHashSet<>();
        Deque<String> todo = new ArrayDeque<>(List.of(module));
        while (!todo.isEmpty()) {
            String m = todo.pop();
            for (String dep : moduleDependencies(m, modules)) {
                if (seen.add(dep)) {
                    todo.push(dep);
                }
            }
        }
        seen.remove(module);
        return seen;
    }

    private static List<String> moduleDependencies(String module, List<String> modules) {
        Document pom = parse(module + "/pom.xml");
        List<String> deps = new ArrayList<>();
        Element project = pom.getDocumentElement();
        Element dependencies = child(project, "dependencies");
        if (dependencies == null) {
            return deps;
        }
        NodeList list = dependencies.getChildNodes();
        for (int i = 0; i < list.getLength(); i++) {
            if (list.item(i) instanceof Element dep && dep.getTagName().equals("dependency")) {
                Element group = child(dep, "groupId");
                Element artifact = child(dep, "artifactId");
                String groupId = group == null ? "" : group.getTextContent().trim();
                String artifactId = artifact == null ? "" : artifact.getTextContent().trim();
                boolean ours = groupId.equals("dev.llmplatform") || groupId.equals("${project.groupId}");
                if (ours && modules.contains(artifactId)) {
                    deps.add(artifactId);
                }
            }
        }
        return deps;
    }

    private static Element child(Element parent, String tag) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                return e;
            }
        }
        return null;
    }

    private static Document parse(String relative) {
        try (var in = Files.newInputStream(Repo.path(relative))) {
            return DocumentBuilderFactory.newDefaultInstance().newDocumentBuilder().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read " + relative + ": " + e.getMessage(), e);
        }
    }
}
