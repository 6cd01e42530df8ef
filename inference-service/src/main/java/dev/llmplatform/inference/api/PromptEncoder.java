package dev.llmplatform.inference.api;

import dev.llmplatform.engine.tokenizer.TokenizerException;
import dev.llmplatform.inference.config.InferenceProperties;
import dev.llmplatform.inference.engine.GenerationService;
import dev.llmplatform.inference.engine.ServedModel;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a request's prompts into token ids and completion limits: chat conversations through the model's chat
 * template (which writes BOS and the special tokens itself, so the text is encoded without adding any), text prompts
 * with BOS as configured, token prompts as given; then checks prompt + max_tokens against the context.
 */
final class PromptEncoder {
    private PromptEncoder() {
    }

    static List<GenerationService.Choice> encode(CompletionRequest req, ServedModel.Loaded model, InferenceProperties props) {
        int context = model.description().contextLength();
        int vocab = model.description().vocabSize();
        String param = req.endpoint().promptParam();
        for (int id : req.sampling().logitBias().keySet()) {
            if (id >= vocab) {
                throw ApiException.invalid("logit_bias", "Invalid 'logit_bias': token id " + id
                        + " is outside the vocabulary (ids 0.." + (vocab - 1) + ").");
            }
        }
        List<GenerationService.Choice> out = new ArrayList<>(req.prompts().size() * req.n());
        for (int p = 0; p < req.prompts().size(); p++) {
            CompletionRequest.Prompt prompt = req.prompts().get(p);
            int[] ids = switch (prompt) {
                case CompletionRequest.ChatPrompt c -> {
                    if (model.chatTemplate() == null) {
                        throw ApiException.invalid("messages", "This model has no chat template (tokenizer_config.json's "
                                + "chat_template); use /v1/completions.");
                    }
                    String text;
                    try {
                        text = model.chatTemplate().render(c.messages(), c.addGenerationPrompt());
                    } catch (TokenizerException e) {
                        throw OpenAiHandler.templateFailure(e);
                    }
                    yield model.tokenizer().encode(text, false);
                }
                case CompletionRequest.TextPrompt t -> model.engine().encodePrompt(t.text(), props.addBos());
                case CompletionRequest.TokenPrompt t -> {
                    for (int id : t.ids()) {
                        if (id >= vocab) {
                            throw ApiException.invalid(param, "Invalid '" + param + "': token id " + id
                                    + " is outside the vocabulary (ids 0.." + (vocab - 1) + ").");
                        }
                    }
                    yield t.ids();
                }
            };
            if (ids.length == 0) {
                throw ApiException.invalid(param, "The prompt is empty: it encodes to no tokens.");
            }
            int maxTokens;
            if (req.maxTokens() != null) {
                if ((long) ids.length + req.maxTokens() > context) {
                    throw ApiException.contextLengthExceeded(context, ids.length, req.maxTokens(), param);
                }
                maxTokens = req.maxTokens();
            } else {
                if (ids.length >= context) {
                    throw ApiException.contextLengthExceeded(context, ids.length, 1, param);
                }
                maxTokens = context - ids.length;
                if (props.defaultMaxTokens() > 0) {
                    maxTokens = Math.min(maxTokens, props.defaultMaxTokens());
                }
            }
            for (int j = 0; j < req.n(); j++) {
                out.add(new GenerationService.Choice(ids, maxTokens));
            }
        }
        return out;
    }
}
