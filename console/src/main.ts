const app = document.getElementById('app');
if (app) app.textContent = 'OCP agent restart: task center';
