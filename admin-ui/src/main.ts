// Entry: the stylesheet, every page element, then the shell.
import './styles.css';
import { applyTheme } from './theme.js';
import './pages/overview.js';
import './pages/status.js';
import './pages/authentication.js';
import './pages/access.js';
import './pages/readiness.js';
import './pages/rate-limits.js';
import './pages/tokens.js';
import './pages/test.js';
import './pages/audit.js';
import './pages/activity.js';
import './pages/settings.js';
import './pages/raw-config.js';
import './pages/account.js';
import './app.js';

applyTheme();
