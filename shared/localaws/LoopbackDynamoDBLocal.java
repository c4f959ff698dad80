// LoopbackDynamoDBLocal starts AWS's DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDBLocal.jar has no option for the listen address: its
// DynamoDBProxyServer builds a Jetty Server(port), whose connector binds
// every interface. This launcher builds the server from the usual command
// line (ServerRunner), sets the host of its Jetty connector to 127.0.0.1
// before it starts, and fails if there is no connector to bind. localaws
// runs it in Java's source-file mode (java -cp <jar>:<lib>/* this file
// <DynamoDB Local arguments>), so no build step is needed.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field f = DynamoDBProxyServer.class.getDeclaredField("server");
    f.setAccessible(true);
    Server server = (Server) f.get(proxy);
    int bound = 0;
    for (Connector c : server.getConnectors()) {
      if (!(c instanceof ServerConnector)) {
        throw new IllegalStateException("DynamoDB Local: unexpected connector " + c + ": cannot bind it to 127.0.0.1");
      }
      ((ServerConnector) c).setHost("127.0.0.1");
      bound++;
    }
    if (bound == 0) {
      throw new IllegalStateException("DynamoDB Local: no connector to bind to 127.0.0.1");
    }
    proxy.start();
    proxy.join();
  }
}
