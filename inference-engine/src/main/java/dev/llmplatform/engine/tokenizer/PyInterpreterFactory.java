package dev.llmplatform.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;

/** Makes Jinjava print booleans as Python does ({@code {{ flag }}} gives "True", not "true"). */
final class PyInterpreterFactory implements InterpreterFactory {

    @Override
    public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
        return new PyInterpreter(orig);
    }

    @Override
    public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig renderConfig) {
        return new PyInterpreter(application, context, renderConfig);
    }

    private static final class PyInterpreter extends JinjavaInterpreter {
        PyInterpreter(Jinjava application, Context context, JinjavaConfig config) {
            super(application, context, config);
        }

        PyInterpreter(JinjavaInterpreter orig) {
            super(orig);
        }

        @Override
        public String getAsString(Object object) {
            if (object instanceof Boolean b) {
                return b ? "True" : "False";
            }
            return super.getAsString(object);
        }
    }
}
