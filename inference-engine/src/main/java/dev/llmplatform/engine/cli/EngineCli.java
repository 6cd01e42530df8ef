package dev.llmplatform.engine.cli;

public final class EngineCli {
    public static void main(String[] args) {
    }
}
