package org.nfnet.training.distributed;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetConfig;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetTarget;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.ConfigProto;

/**
 * Creates a {@link Session} bound to a session target such as {@code grpc://localhost:2222} (the
 * in-process {@link WorkerServer}'s master), which TF Java 1.1 has no public API for: every public
 * {@code Session} constructor passes a {@code null} target to the C API.
 *
 * <p><b>This is the only reflective class of the package.</b> The C side is public
 * ({@code TF_SetTarget}, {@code TF_NewSession} via {@link TF_Session#newSession}, exported by the
 * {@code tensorflow.nativelib} module); the two missing pieces are package-private in
 * {@code org.tensorflow}: the graph's {@code TF_Graph} handle ({@code Graph.ref()} +
 * {@code Graph.Reference.nativeHandle()}) and the wrapping constructor {@code Session(Graph,
 * TF_Session)} (the one {@code SavedModelBundle} uses). Why not a helper class in package
 * {@code org.tensorflow}: {@code tensorflow-core-api-1.1.0.jar} is a named module (it ships a
 * {@code module-info.class}); on the module path a second module containing {@code org.tensorflow}
 * is a split package and is rejected at startup, so that trick only works on the class path.
 * Reflection works on the class path as is (an unnamed module's packages are open) and on the
 * module path with {@code --add-opens tensorflow/org.tensorflow=<our module or ALL-UNNAMED>}.
 *
 * <p>The returned session behaves like any {@code Session} (runner, fetch, feed, RunOptions) except
 * that it does <em>not</em> auto-initialize: call {@link Session#initialize()} once after building
 * the graph (variables live on the server, in this task's resource manager).
 *
 * <p>Remove this class once TF Java exposes a target (e.g. a public {@code Session(Graph, String
 * target, ConfigProto)}).
 */
public final class TargetedSession {

  private static final Method GRAPH_REF;
  private static final Method REF_NATIVE_HANDLE;
  private static final Method REF_CLOSE;
  private static final Constructor<Session> SESSION_WRAP;
  private static final RuntimeException INIT_FAILURE;

  static {
    Method ref = null;
    Method handle = null;
    Method close = null;
    Constructor<Session> wrap = null;
    RuntimeException failure = null;
    try {
      ref = Graph.class.getDeclaredMethod("ref");
      ref.setAccessible(true);
      Class<?> refClass = ref.getReturnType();
      handle = refClass.getDeclaredMethod("nativeHandle");
      handle.setAccessible(true);
      close = refClass.getDeclaredMethod("close");
      close.setAccessible(true);
      wrap = Session.class.getDeclaredConstructor(Graph.class, TF_Session.class);
      wrap.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      failure =
          new IllegalStateException(
              "TF Java internals changed or are not open: cannot create a Session with a target"
                  + " (needs package-private Graph.ref() and Session(Graph, TF_Session); on the"
                  + " module path add --add-opens tensorflow/org.tensorflow=ALL-UNNAMED)",
              e);
    }
    GRAPH_REF = ref;
    REF_NATIVE_HANDLE = handle;
    REF_CLOSE = close;
    SESSION_WRAP = wrap;
    INIT_FAILURE = failure;
  }

  private TargetedSession() {}

  /**
   * Opens a session on {@code graph} whose runs are executed by the master at {@code target}
   * ({@code grpc://host:port}; an empty target gives an ordinary local DirectSession).
   *
   * @param config session config, may be null (see {@link ClusterSpec#sessionConfig})
   */
  public static Session open(Graph graph, String target, ConfigProto config) {
    if (INIT_FAILURE != null) {
      throw INIT_FAILURE;
    }
    Object ref = invoke(GRAPH_REF, graph);
    try (PointerScope scope = new PointerScope()) {
      TF_Graph graphHandle = (TF_Graph) invoke(REF_NATIVE_HANDLE, ref);
      if (graphHandle == null || graphHandle.isNull()) {
        throw new IllegalStateException("Graph has been closed");
      }
      TF_Status status = TF_Status.newStatus();
      TF_SessionOptions opts = TF_SessionOptions.newSessionOptions();
      TF_SetTarget(opts, target == null ? "" : target);
      if (config != null) {
        BytePointer bytes = new BytePointer(config.toByteArray());
        TF_SetConfig(opts, bytes, bytes.capacity(), status);
        status.throwExceptionIfNotOK();
      }
      TF_Session session = TF_Session.newSession(graphHandle, opts, status);
      status.throwExceptionIfNotOK();
      // Same ownership dance as Session.allocate: keep the handle alive past this PointerScope;
      // Session.close() releases it (its deallocator closes and deletes the TF_Session).
      session.retainReference();
      try {
        return SESSION_WRAP.newInstance(graph, session);
      } catch (InvocationTargetException e) {
        session.releaseReference();
        throw unwrap(e);
      } catch (ReflectiveOperationException e) {
        session.releaseReference();
        throw new IllegalStateException(e);
      }
    } finally {
      invoke(REF_CLOSE, ref);
    }
  }

  private static Object invoke(Method m, Object target) {
    try {
      return m.invoke(target);
    } catch (InvocationTargetException e) {
      throw unwrap(e);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  private static RuntimeException unwrap(InvocationTargetException e) {
    Throwable c = e.getCause();
    if (c instanceof RuntimeException r) {
      return r;
    }
    if (c instanceof Error err) {
      throw err;
    }
    return new IllegalStateException(c);
  }
}
