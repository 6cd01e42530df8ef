package dev.llmplatform.engine.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.Iterator;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * First link of the template engine's EL resolver chain: answers Python string method calls on strings
 * ({@link PyStrings}); everything else falls through to Jinjava's own resolvers.
 */
final class PyMethodResolver extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (base instanceof CharSequence s && method instanceof String name && PyStrings.METHODS.contains(name)) {
            Object result = PyStrings.call(s.toString(), name, params == null ? new Object[0] : params);
            context.setPropertyResolved(true);
            return result;
        }
        return null;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // not ours to set
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
