// A Java HTTPS client for uscope's tls test (JSSE): waits the seconds given,
// then fetches the URL given.
import java.io.InputStream;
import java.net.URL;

public class Fetch {
    public static void main(String[] args) throws Exception {
        Thread.sleep(Long.parseLong(args[0]) * 1000);
        try (InputStream in = new URL(args[1]).openStream()) {
            System.out.write(in.readAllBytes());
        }
    }
}
